"""Consent: grant, withdraw, expire; the question whether a consent is in force."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, lock_for_change
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, require_role
from clinics.services import participant_clear_identity

from ..models import Consent, Enrollment

Status = Enrollment.Status


# --- Consent ---------------------------------------------------------------------------------


def has_consent(
    participant: Participant, purpose: str, *, group=None, recipient: str | None = None, when=None
) -> bool:
    """Whether the participant's consent for `purpose` is in force (for that group / recipient)."""
    consents = Consent.objects.active(when).filter(participant=participant, purpose=purpose)
    if purpose == Consent.Purpose.PARTICIPATION and group is not None:
        consents = consents.filter(group__isnull=True) | consents.filter(group=group)
    if recipient is not None:
        consents = consents.filter(recipient__iexact=recipient.strip())
    return consents.exists()


@transaction.atomic
def consent_grant(
    *,
    participant: Participant,
    purpose: str,
    method: str,
    text_version: str,
    by,
    group=None,
    recipient: str = "",
    granted_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
    scan=None,
) -> Consent:
    """Record a participant's consent for one purpose: how it was given and the text's version."""
    require_role(by, participant.institution_id, CLINICAL_ROLES, _("record consents"))
    if participant.is_erased:
        raise ValidationError(_("This participant's data has been erased."))
    granted_at = granted_at or timezone.now()
    errors = {}
    if purpose not in Consent.Purpose.values:
        errors["purpose"] = _("Unknown purpose.")
    if method not in Consent.Method.values:
        errors["method"] = _("Say how the consent was given: signed form, verbal or electronic.")
    if not (text_version or "").strip():
        errors["text_version"] = _("Give the version of the consent text that was agreed to.")
    if purpose == Consent.Purpose.DISCLOSURE and not (recipient or "").strip():
        errors["recipient"] = _("Name the third party the attendance may be disclosed to.")
    if purpose != Consent.Purpose.DISCLOSURE and recipient:
        errors["recipient"] = _("Only a disclosure consent names a recipient.")
    if group is not None and purpose != Consent.Purpose.PARTICIPATION:
        errors["group"] = _("Only a participation consent names a group.")
    if group is not None and group.institution_id != participant.institution_id:
        errors["group"] = _("Unknown group.")
    if expires_at is not None and expires_at <= granted_at:
        errors["expires_at"] = _("A consent must expire after it was granted.")
    if granted_at > timezone.now() + datetime.timedelta(minutes=5):
        errors["granted_at"] = _("A consent cannot be granted in the future.")
    if errors:
        raise ValidationError(errors)
    # One grant in force per scope: a participation consent per group (or general), a
    # disclosure consent per recipient. A new grant after withdrawal or expiry is a new row.
    in_force = Consent.objects.active().filter(participant=participant, purpose=purpose)
    if purpose == Consent.Purpose.PARTICIPATION:
        in_force = in_force.filter(group=group)
    if purpose == Consent.Purpose.DISCLOSURE:
        in_force = in_force.filter(recipient__iexact=recipient.strip())
    if in_force.exists():
        raise ValidationError({"purpose": _("This consent is already granted and in force.")})
    consent = Consent(
        institution_id=participant.institution_id,
        participant=participant,
        purpose=purpose,
        method=method,
        text_version=text_version.strip(),
        group=group,
        recipient=(recipient or "").strip(),
        granted_at=granted_at,
        expires_at=expires_at,
        recorded_by=by,
    )
    if scan:
        consent.scan = scan
    consent.full_clean(exclude=["institution"])
    consent.save()
    audit_record(
        actor=by,
        action="consent.granted",
        obj=consent,
        details={"purpose": purpose, "participant": participant.code},
    )
    return consent


@transaction.atomic
def consent_withdraw(
    *, consent: Consent, by, reason: str = "", precondition: Precondition = None
) -> Consent:
    """Withdraw a consent: effective at once, recorded with who, when and why, history kept.

    Without a health-data consent left, the person's identity beyond their alias (name,
    contacts, year of birth) is cleared at once; their history (attendance, consents,
    memberships) stays, under their code and alias.
    """
    require_role(by, consent.institution_id, CLINICAL_ROLES, _("record consents"))
    consent = lock_for_change(consent, precondition)
    if consent.withdrawn_at is not None:
        raise ValidationError(_("This consent was already withdrawn."))
    if consent.status == Consent.Status.EXPIRED or not consent.is_active_at():
        raise ValidationError(_("This consent is no longer in force."))
    consent.status = Consent.Status.WITHDRAWN
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_by = by
    consent.withdrawal_reason = (reason or "").strip()
    consent.save()
    if consent.purpose == Consent.Purpose.CONTACT:
        participant = consent.participant
        if not has_consent(participant, Consent.Purpose.CONTACT):
            # No more reminders from now on; `updated_at` moves so the mobile app syncs it.
            Participant.objects.filter(pk=participant.pk).update(
                reminder_channel=Participant.Channel.NONE, updated_at=timezone.now()
            )
    audit_record(
        actor=by,
        action="consent.withdrawn",
        obj=consent,
        details={"purpose": consent.purpose, "participant": consent.participant.code},
    )
    if consent.purpose == Consent.Purpose.HEALTH_DATA and not has_consent(
        consent.participant, Consent.Purpose.HEALTH_DATA
    ):
        participant_clear_identity(
            participant=consent.participant, by=by, why="health_data consent withdrawn"
        )
    return consent


@transaction.atomic
def consents_expire(*, now=None) -> int:
    """Mark consents whose expiry has passed as expired (a periodic job); returns how many."""
    now = now or timezone.now()
    expired = list(
        Consent.objects.filter(
            status=Consent.Status.GRANTED, expires_at__lte=now
        ).select_for_update()
    )
    for consent in expired:
        consent.status = Consent.Status.EXPIRED
        consent.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=None, action="consent.expired", obj=consent, details={"purpose": consent.purpose}
        )
    return len(expired)
