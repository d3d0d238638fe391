"""Erasure of a participant from the outbox (called by clinics.services.participant_erase)."""

from clinics.erasure import redact

from .models import OutboxMessage


def outbox_forget_participant(*, participant, pattern) -> int:
    """Wipe the address of every message to the person, redact their names from the texts,
    and skip what was still to be sent. Inside the erasure's transaction."""
    count = 0
    messages = OutboxMessage.objects.filter(participant=participant).select_for_update()
    for message in messages:
        message.to = ""
        message.subject = redact(message.subject, pattern, participant.code)
        message.body = redact(message.body, pattern, participant.code)
        if message.status == OutboxMessage.Status.PENDING:
            message.status = OutboxMessage.Status.SKIPPED
            message.last_error = "the participant's data was erased"
        message.save(update_fields=["to", "subject", "body", "status", "last_error", "updated_at"])
        count += 1
    return count
