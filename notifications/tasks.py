"""Celery tasks of the notification side. They take ids, call services and hold no rules.

The periodic ones are listed in the beat schedule (config/celery.py). Each is idempotent: the
outbox's unique keys make a second run write nothing new, so nothing is sent twice.
"""

import logging

from celery import shared_task

from attendance.services import consents_expire

from . import services

logger = logging.getLogger(__name__)

MAX_RETRIES = services.MAX_ATTEMPTS - 1


def backoff(retries: int) -> int:
    """Seconds before the next try: 1, 2, 4, 8, 10 minutes.

    Kept below the broker's visibility timeout (15 minutes), or Redis would hand the waiting
    retry to a second worker.
    """
    return min(60 * 2**retries, 600)


@shared_task
def send_messages(message_ids: list[int]) -> int:
    """Fan a batch out, one task a message: the request that wrote them published once."""
    for message_id in message_ids:
        send_message.delay(message_id)
    return len(message_ids)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_message(self, message_id: int) -> str:
    """Send one outbox message; transient failures are retried with exponential backoff,
    and after the last retry the message is marked failed with the error."""
    try:
        return services.outbox_send(message_id=message_id)
    except services.OutboxBusy as busy:
        # Another worker's claim (or one that died) still stands: look again when it lapses.
        # Eagerly there is no later; the stale-message sweep comes back to it.
        if not self.request.is_eager:
            send_message.apply_async((message_id,), countdown=int(busy.seconds) + 1)
        return services.Status.PENDING
    except services.TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            services.outbox_mark_failed(message_id=message_id, error=services._error_text(exc))
            logger.warning("Outbox message %s failed for good: %r", message_id, exc)
            return services.Status.FAILED
        if self.request.is_eager:
            # No broker to bring it back later (the embedded default): try again at once.
            return self.apply(args=(message_id,), retries=self.request.retries + 1).result
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task
def send_session_reminders() -> int:
    return len(services.reminders_enqueue())


@shared_task
def send_day_plans() -> int:
    return len(services.day_plans_enqueue())


@shared_task
def offer_free_seats() -> int:
    return len(services.waitlist_offers_run())


@shared_task
def notify_follow_ups() -> int:
    return len(services.follow_up_notices_enqueue())


@shared_task
def flag_expiring_consents() -> int:
    return len(services.expiring_consent_notices_enqueue())


@shared_task
def expire_consents() -> int:
    return consents_expire()


@shared_task
def erase_inactive_participants() -> int:
    return len(services.retention_erase_inactive())


@shared_task
def dispatch_stale_messages() -> int:
    return len(services.outbox_dispatch_stale())
