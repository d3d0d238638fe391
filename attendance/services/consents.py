"""Consent: grant, withdraw, expire; the question whether a consent is in force."""

import datetime
from collections import defaultdict
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_event, audit_record, audit_record_many
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, require_role
from clinics.services import Refused, participant_clear_identity

from ..models import Consent, Enrollment
from .consent_texts import _check_scan, resolve_consent_text

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


def consent_text_resolver():
    """`resolve_consent_text`, remembering its answers (and refusals) for one bulk call: they
    depend only on the institution, the purpose, the version and the languages asked."""
    known: dict = {}

    def resolve(participant, purpose: str, version: str, language: str = ""):
        key = (
            participant.institution_id,
            purpose,
            (version or "").strip(),
            participant.language,
            language,
        )
        if key not in known:
            try:
                known[key] = (resolve_consent_text(participant, purpose, version, language), None)
            except ValidationError as exc:
                known[key] = (None, exc)
        text, refusal = known[key]
        if refusal is not None:
            raise ValidationError(refusal.error_dict)
        return text

    return resolve


def _in_force_in_scope(in_force, purpose: str, group, recipient: str) -> bool:
    """Whether one of the consents `in_force` (the person's, in force) already covers this
    grant's scope: a participation consent per group (or general), a disclosure consent per
    recipient, one of any other purpose."""
    for consent in in_force:
        if consent.purpose != purpose:
            continue
        if purpose == Consent.Purpose.PARTICIPATION and consent.group_id != (
            group.pk if group is not None else None
        ):
            continue
        if (
            purpose == Consent.Purpose.DISCLOSURE
            and consent.recipient.casefold() != (recipient or "").strip().casefold()
        ):
            continue
        return True
    return False


def consent_check(
    *,
    participant: Participant,
    purpose: str,
    method: str,
    by,
    in_force,
    resolve=resolve_consent_text,
    text_version: str = "",
    text=None,
    discloses_group: bool = False,
    group=None,
    recipient: str = "",
    granted_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
    scan=None,
) -> Consent:
    """Every rule of a grant (consent_grant's arguments), on a consent not yet saved: raises the
    ValidationError that refuses it, else returns it. `in_force`: the person's consents in
    force (of any purpose); `resolve`: how a version label finds its text (a bulk call passes
    `consent_text_resolver()`, which reads each text once). consent_grant and the bulk grants
    (consent_grant_many, participant_register_many) all ask this, so they refuse alike."""
    if participant.is_erased:
        raise ValidationError(_("This participant's data has been erased."))
    granted_at = granted_at or timezone.now()
    errors = {}
    if purpose not in Consent.Purpose.values:
        errors["purpose"] = _("Unknown purpose.")
    if method not in Consent.Method.values:
        errors["method"] = _("Say how the consent was given: signed form, verbal or electronic.")
    if text is not None:
        if text.institution_id != participant.institution_id or text.purpose != purpose:
            errors["text"] = _("This consent text is not the institution's text for this purpose.")
        text_version = text.version
    elif purpose in Consent.Purpose.values:
        try:
            text = resolve(participant, purpose, text_version)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            text_version = text.version if text is not None else text_version
    if not (text_version or "").strip() and "text_version" not in errors:
        errors["text_version"] = _("Give the version of the consent text that was agreed to.")
    if discloses_group and purpose != Consent.Purpose.DISCLOSURE:
        errors["discloses_group"] = _("Only a disclosure consent can allow naming the group.")
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
    # One grant in force per scope. A new grant after withdrawal or expiry is a new row.
    if _in_force_in_scope(in_force, purpose, group, recipient):
        raise ValidationError({"purpose": _("This consent is already granted and in force.")})
    consent = Consent(
        institution_id=participant.institution_id,
        participant=participant,
        purpose=purpose,
        method=method,
        text_version=text_version.strip(),
        text=text,
        discloses_group=discloses_group,
        group=group,
        recipient=(recipient or "").strip(),
        granted_at=granted_at,
        expires_at=expires_at,
        recorded_by=by,
    )
    if scan:
        _check_scan(scan)
        consent.scan = scan
    return consent


def consent_granted_audit(consent: Consent, by) -> dict:
    """The arguments of a grant's audit event (audit_record or audit_event), the same whether
    it was granted alone or in bulk."""
    return {
        "actor": by,
        "action": "consent.granted",
        "obj": consent,
        "institution": consent.participant.institution,
        "details": {"purpose": consent.purpose, "participant": consent.participant.code},
    }


@transaction.atomic
def consent_grant(*, participant: Participant, purpose: str, method: str, by, **grant) -> Consent:
    """Record a participant's consent for one purpose: how it was given and the exact text
    agreed to (`text`, or its version label `text_version`, resolved among the institution's
    texts for that purpose in the person's language; see consent_texts). The arguments and
    every rule are consent_check's."""
    require_role(by, participant.institution_id, CLINICAL_ROLES, _("record consents"))
    in_force = []
    if not participant.is_erased and purpose in Consent.Purpose.values:
        in_force = list(Consent.objects.active().filter(participant=participant, purpose=purpose))
    consent = consent_check(
        participant=participant, purpose=purpose, method=method, by=by, in_force=in_force, **grant
    )
    consent.full_clean(exclude=["institution"])
    consent.save()
    audit_record(**consent_granted_audit(consent, by))
    return consent


# What full_clean() would ask the database of a consent granted in bulk, true by construction
# there: the foreign keys are the objects in hand, and consent_check enforces the conditions of
# the check constraints (which stand behind it).
BULK_CLEAN = {
    "exclude": ["institution", "participant", "text", "group", "recorded_by", "withdrawn_by"],
    "validate_unique": False,
    "validate_constraints": False,
}


@transaction.atomic
def consent_grant_many(*, grants: Sequence[dict], by) -> list[Consent | Refused]:
    """Record many consents of registered people at once, each grant (`participant` and
    consent_grant's arguments) checked by consent_check as consent_grant checks it, in order (a
    grant sees the ones before it in force). A refused grant is returned as `Refused` with the
    error consent_grant would raise, nothing of it written; the others are written with one
    insert, their `consent.granted` events with one more. Reads: the people's consents in force
    once, each consent text once."""
    for institution_id in sorted({g["participant"].institution_id for g in grants}):
        require_role(by, institution_id, CLINICAL_ROLES, _("record consents"))
    in_force = defaultdict(list)
    people = {g["participant"].pk for g in grants}
    for consent in Consent.objects.active().filter(participant_id__in=people):
        in_force[consent.participant_id].append(consent)
    resolve = consent_text_resolver()
    results: list = []
    for grant in grants:
        grant = dict(grant)
        participant = grant.pop("participant")
        try:
            consent = consent_check(
                participant=participant,
                by=by,
                in_force=in_force[participant.pk],
                resolve=resolve,
                **grant,
            )
            consent.full_clean(**BULK_CLEAN)
        except ValidationError as exc:
            results.append(Refused(exc))
            continue
        if consent.is_active_at():
            in_force[participant.pk].append(consent)
        results.append(consent)
    accepted = [c for c in results if isinstance(c, Consent)]
    if accepted:
        Consent.objects.bulk_create(accepted)
        audit_record_many(audit_event(**consent_granted_audit(c, by)) for c in accepted)
    return results


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
    consent.save(
        update_fields=changed_fields("status", "withdrawn_at", "withdrawn_by", "withdrawal_reason")
    )
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
    if consent.purpose == Consent.Purpose.PARTICIPATION:
        _end_memberships_without_consent(consent.participant, by=by)
    if consent.purpose == Consent.Purpose.HEALTH_DATA and not has_consent(
        consent.participant, Consent.Purpose.HEALTH_DATA
    ):
        participant_clear_identity(
            participant=consent.participant, by=by, why="health_data consent withdrawn"
        )
    return consent


def _end_memberships_without_consent(participant: Participant, *, by) -> int:
    """Withdrawing the participation consent ends membership at once: every open membership
    and waiting place of the person whose group no consent in force covers any more."""
    from .enrollments import enrollments_close_for_participant

    groups = {e.group for e in Enrollment.objects.open().filter(participant=participant)}
    uncovered = [
        g for g in groups if not has_consent(participant, Consent.Purpose.PARTICIPATION, group=g)
    ]
    if not uncovered:
        return 0
    return enrollments_close_for_participant(
        participant=participant, by=by, why="consent_withdrawn", groups=uncovered
    )


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
