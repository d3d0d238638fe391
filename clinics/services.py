"""What the organisation side of the business does: set up the institution, register people."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_event, audit_record, audit_record_many

from .erasure import identity_pattern, redact
from .locking import Precondition, changed_fields, lock_for_change
from .models import Institution, Participant, Room, Site, StaffMembership
from .querysets import forget_memberships
from .roles import CLINICAL_ROLES, Role, require_role

# Which fields of a participant the client may set; everything else is the system's.
PARTICIPANT_EDITABLE = (
    "alias",
    "legal_name",
    "email",
    "phone",
    "reminder_channel",
    "birth_year",
    "language",
)


@dataclass
class Refused:
    """An entry a bulk service refused, with nothing of it written: the error the single-row
    service raises for it, and which of the entry's consents was refused, when one was."""

    error: ValidationError
    consent: int | None = None


def _refuse_unknown_fields(fields: dict) -> None:
    unknown = set(fields) - set(PARTICIPANT_EDITABLE)
    if unknown:
        raise ValidationError({name: _("This field cannot be set.") for name in sorted(unknown)})


def _assign(participant: Participant, fields: dict) -> None:
    """Set the fields; None clears a field to its default (blank, or no year of birth)."""
    for name, value in fields.items():
        default = Participant._meta.get_field(name).get_default()
        setattr(participant, name, value if value is not None else default)


def _save_validated(obj, *, by, action: str, institution, details=None):
    obj.full_clean()
    obj.save()
    audit_record(actor=by, action=action, obj=obj, institution=institution, details=details)
    return obj


@transaction.atomic
def institution_save(*, institution: Institution, by) -> Institution:
    """Create or change an institution; only superusers create, its admins change."""
    if institution.pk is None:
        if not by.is_superuser:
            raise ValidationError(_("Only the platform operator can create an institution."))
    else:
        require_role(by, institution, (Role.ADMIN,), _("change the institution"))
    action = "institution.created" if institution.pk is None else "institution.changed"
    institution.full_clean()
    institution.save()
    audit_record(actor=by, action=action, obj=institution, institution=institution)
    return institution


@transaction.atomic
def site_save(*, site: Site, by) -> Site:
    """Create or change a site of an institution (institution admins)."""
    require_role(by, site.institution_id, (Role.ADMIN,), _("manage sites"))
    return _save_validated(site, by=by, action="site.saved", institution=site.institution)


@transaction.atomic
def room_save(*, room: Room, by) -> Room:
    """Create or change a room (institution admins)."""
    require_role(by, room.site.institution_id, (Role.ADMIN,), _("manage rooms"))
    return _save_validated(room, by=by, action="room.saved", institution=room.site.institution)


@transaction.atomic
def membership_save(*, membership: StaffMembership, by) -> StaffMembership:
    """Give a user a role in an institution, or change it (institution admins)."""
    require_role(by, membership.institution_id, (Role.ADMIN,), _("manage staff"))
    if membership.user_id == by.pk and membership.pk and not by.is_superuser:
        current = StaffMembership.objects.get(pk=membership.pk)
        if current.role == Role.ADMIN and (
            membership.role != Role.ADMIN or not membership.is_active
        ):
            raise ValidationError({"role": _("You cannot remove your own admin role.")})
    saved = _save_validated(
        membership,
        by=by,
        action="membership.saved",
        institution=membership.institution,
        details={
            "user": membership.user_id,
            "role": membership.role,
            "active": membership.is_active,
        },
    )
    # Whoever's role this was must not go on acting on the one read earlier in the request.
    forget_memberships(membership.user)
    if membership.user_id == by.pk:
        forget_memberships(by)
    return saved


def _wipe_identity(participant: Participant) -> list[str]:
    """Empty the name, contacts and year of birth (and so the reminders) on the instance, not
    yet saved; returns the fields that held a value."""
    held = [f for f in Participant.IDENTITY_FIELDS if getattr(participant, f) not in (None, "")]
    for name in Participant.IDENTITY_FIELDS:
        setattr(participant, name, None if Participant._meta.get_field(name).null else "")
    participant.reminder_channel = Participant.Channel.NONE  # no e-mail or phone to remind on
    return held


def participant_clear_identity(*, participant: Participant, by, why: str) -> list[str]:
    """Keep nothing of a person but their alias, code and history: what the record may hold once
    the consent to process health-related data is gone (SPEC: without it, nobody is registered
    beyond an alias). Returns the fields that were cleared; their values are not logged."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    cleared = _wipe_identity(participant)
    if not cleared:
        return []
    participant.save(update_fields=[*cleared, "reminder_channel", "updated_at"])
    audit_record(
        actor=by,
        action="participant.identity_cleared",
        obj=participant,
        details={"fields": cleared, "why": why},
    )
    return cleared


def _has_consent_in_force(participant: Participant, purpose: str, in_force) -> bool:
    """`in_force`: the purposes of the person's consents in force, when the caller knows them
    (a bulk registration has them in hand); None: read them."""
    from attendance.models import Consent

    if in_force is not None:
        return purpose in in_force
    return (
        participant.pk is not None
        and Consent.objects.active().filter(participant=participant, purpose=purpose).exists()
    )


def _check_identity_allowed(participant: Participant, fields: dict, *, in_force=None) -> None:
    """Identity beyond an alias needs the health-data consent (GDPR art. 9)."""
    from attendance.models import Consent

    wants_identity = any(fields.get(f) not in (None, "") for f in Participant.IDENTITY_FIELDS)
    if not wants_identity:
        return
    if not _has_consent_in_force(participant, Consent.Purpose.HEALTH_DATA, in_force):
        message = _(
            "Without consent to the processing of health-related data only an alias can be "
            "registered."
        )
        raise ValidationError(
            {
                field: ValidationError(message, code="consent_required")
                for field in Participant.IDENTITY_FIELDS
                if fields.get(field) not in (None, "")
            }
        )


def _check_reminder_channel(
    participant: Participant, fields: dict, *, changing: bool, in_force=None
) -> None:
    """Reminders go by a channel the participant gave an address for and, when the channel is
    being switched on, agreed to be contacted by (withdrawing the contact consent switches it
    off again: attendance.services.consent_withdraw)."""
    from attendance.models import Consent

    channel = fields.get("reminder_channel")
    if channel == Participant.Channel.EMAIL and not fields.get("email"):
        raise ValidationError({"email": _("E-mail reminders need an e-mail address.")})
    if channel == Participant.Channel.SMS and not fields.get("phone"):
        raise ValidationError({"phone": _("SMS reminders need a phone number.")})
    if not changing or channel in (None, "", Participant.Channel.NONE):
        return
    if not _has_consent_in_force(participant, Consent.Purpose.CONTACT, in_force):
        raise ValidationError(
            {
                "reminder_channel": ValidationError(
                    _("Reminders need the participant's consent to be contacted."),
                    code="consent_required",
                )
            }
        )


def _new_participant(*, institution: Institution, by, alias: str, fields: dict) -> Participant:
    """What a registration asks before anything is written: fields the client may set and an
    alias. The person, not yet numbered nor saved."""
    _refuse_unknown_fields(fields)
    if not (alias or "").strip():
        raise ValidationError({"alias": _("Give at least an alias.")})
    return Participant(institution=institution, alias=alias.strip(), registered_by=by)


def _identity_checked(participant: Participant, fields: dict, *, in_force=None) -> None:
    """What a registration asks once the person's consents are recorded: identity and
    reminders need theirs. Then the fields are set on the instance (not saved)."""
    if not fields:
        return
    _check_identity_allowed(participant, fields, in_force=in_force)
    _check_reminder_channel(
        participant,
        {**{f: getattr(participant, f) for f in PARTICIPANT_EDITABLE}, **fields},
        changing="reminder_channel" in fields,
        in_force=in_force,
    )
    _assign(participant, fields)


def _draw_numbers(institution: Institution, count: int) -> int:
    """The first of `count` consecutive participant numbers, drawn under the institution row's
    lock, so two registrations never draw the same number (the lock is held to the end of the
    caller's transaction)."""
    locked = Institution.objects.select_for_update().get(pk=institution.pk)
    first = locked.last_participant_number + 1
    Institution.objects.filter(pk=locked.pk).update(last_participant_number=first + count - 1)
    return first


@transaction.atomic
def participant_register(
    *, institution: Institution, by, alias: str, consents=(), **fields
) -> Participant:
    """Register a person under the next pseudonymous code (P-00042).

    `consents` (dicts of consent_grant's arguments) are recorded first, in the same transaction,
    so a walk-in's consent to health data lets their name be registered at once.
    """
    from attendance.services import consent_grant

    require_role(by, institution, CLINICAL_ROLES, _("register participants"))
    participant = _new_participant(institution=institution, by=by, alias=alias, fields=fields)
    participant.number = _draw_numbers(institution, 1)
    participant.code = Participant.code_for(participant.number)
    participant.full_clean()
    participant.save()
    for consent in consents:
        consent_grant(participant=participant, by=by, **consent)
    if fields:
        _identity_checked(participant, fields)
        participant.full_clean()
        participant.save()
    audit_record(actor=by, action="participant.registered", obj=participant)
    return participant


# What full_clean() would ask the database in a bulk registration, and is true by construction
# there: the institution and the user are the ones in hand, the numbers are drawn under the
# institution's lock (and the unique constraints stand behind them).
BULK_CLEAN = {
    "exclude": ["institution", "registered_by", "number", "code"],
    "validate_unique": False,
    "validate_constraints": False,
}


@transaction.atomic
def participant_register_many(
    *, institution: Institution, by, people: Sequence[dict]
) -> list[Participant | Refused]:
    """Register many people at once, each entry (`alias`, `consents`, fields) as
    `participant_register` would: the same checks, of the person and of each consent
    (attendance.services.consent_check), in the same order; an entry refused is returned as
    `Refused` with the error participant_register would raise, and nothing of it is written.

    The others are numbered from one block drawn under the institution's lock and written with
    one insert per table, their audit events (each consent's `consent.granted`, then the
    person's `participant.registered`, as participant_register writes them) with one more.
    Refusing some entries does not undo the others: a caller that wants all or nothing (an
    import) rolls its transaction back.
    """
    from attendance.models import Consent
    from attendance.services.consents import (
        consent_check,
        consent_granted_audit,
        consent_text_resolver,
    )

    require_role(by, institution, CLINICAL_ROLES, _("register participants"))
    resolve = consent_text_resolver()
    results: list = []
    accepted: list[tuple[Participant, list]] = []
    for entry in people:
        fields = dict(entry)
        alias, consents = fields.pop("alias", ""), fields.pop("consents", ())
        granted: list = []
        at = None
        try:
            participant = _new_participant(
                institution=institution, by=by, alias=alias, fields=fields
            )
            participant.full_clean(**BULK_CLEAN)
            for at, consent in enumerate(consents):  # noqa: B007 - `at` names a refused one
                granted.append(
                    consent_check(
                        participant=participant,
                        by=by,
                        in_force=[c for c in granted if c.is_active_at()],
                        resolve=resolve,
                        **consent,
                    )
                )
            at = None
            _identity_checked(
                participant, fields, in_force={c.purpose for c in granted if c.is_active_at()}
            )
            participant.full_clean(**BULK_CLEAN)
        except ValidationError as exc:
            results.append(Refused(exc, consent=at))
            continue
        results.append(participant)
        accepted.append((participant, granted))
    if not accepted:
        return results
    first = _draw_numbers(institution, len(accepted))
    for offset, (participant, _granted) in enumerate(accepted):
        participant.number = first + offset
        participant.code = Participant.code_for(participant.number)
    Participant.objects.bulk_create([participant for participant, _granted in accepted])
    consents = []
    for participant, granted in accepted:
        for consent in granted:
            consent.participant = participant
            consents.append(consent)
    Consent.objects.bulk_create(consents)
    events = []
    for participant, granted in accepted:
        events += [audit_event(**consent_granted_audit(consent, by)) for consent in granted]
        events.append(audit_event(actor=by, action="participant.registered", obj=participant))
    audit_record_many(events)
    return results


@transaction.atomic
def participant_update(
    *, participant: Participant, by, precondition: Precondition = None, **fields
) -> Participant:
    """Change a participant's alias, identity or reminder settings."""
    require_role(by, participant.institution_id, CLINICAL_ROLES, _("change participants"))
    participant = lock_for_change(participant, precondition)
    if participant.is_erased:
        raise ValidationError(_("This participant's data has been erased."))
    _refuse_unknown_fields(fields)
    if "alias" in fields and not (fields["alias"] or "").strip():
        raise ValidationError({"alias": _("Give at least an alias.")})
    changed = {k: v for k, v in fields.items() if getattr(participant, k) != v}
    _check_identity_allowed(
        participant, {k: v for k, v in changed.items() if k in Participant.IDENTITY_FIELDS}
    )
    _check_reminder_channel(
        participant,
        {**{f: getattr(participant, f) for f in PARTICIPANT_EDITABLE}, **fields},
        changing="reminder_channel" in changed,
    )
    _assign(participant, changed)
    participant.full_clean()
    participant.save(update_fields=changed_fields(*changed))
    audit_record(
        actor=by, action="participant.changed", obj=participant, details={"fields": sorted(changed)}
    )
    return participant


@transaction.atomic
def participant_erase(*, participant: Participant, by, reason: str = "") -> Participant:
    """Erase a person on request or at the end of retention: identity and contacts are wiped for
    good, the code and the attendance figures stay so aggregate statistics survive."""
    if by is not None:
        require_role(by, participant.institution_id, (Role.ADMIN,), _("erase participants"))
    participant = lock_for_change(participant)
    if participant.is_erased:
        raise ValidationError(_("This participant's data has already been erased."))
    # The names to look for in free text, taken before they are wiped.
    pattern = identity_pattern(
        legal_name=participant.legal_name, alias=participant.alias, code=participant.code
    )
    participant.alias = participant.code
    _wipe_identity(participant)
    participant.erased_at = timezone.now()
    participant.save(
        update_fields=changed_fields(
            "alias", "erased_at", "reminder_channel", *Participant.IDENTITY_FIELDS
        )
    )
    from attendance.services import enrollments_close_for_participant

    # Erasure ends every membership and waiting place: they leave future rosters.
    ended = enrollments_close_for_participant(participant=participant, by=by, why="erased")
    from notifications.erasure import outbox_forget_participant
    from reports.erasure import reports_forget_participant

    done = _erase_from_notes_and_consents(participant, pattern)
    done["messages"] = outbox_forget_participant(participant=participant, pattern=pattern)
    done.update(reports_forget_participant(participant=participant))
    done["memberships_ended"] = ended
    details = {"reason": reason, **{what: n for what, n in done.items() if n}}
    audit_record(actor=by, action="participant.erased", obj=participant, details=details)
    return participant


def _erase_from_notes_and_consents(participant: Participant, pattern) -> dict:
    """Their own notes (and earlier versions, addenda) are emptied; the notes of the groups they
    belonged to keep their text with the person's names replaced by the code; scans of signed
    consent forms are deleted once the erasure commits."""
    from attendance.models import Consent
    from sessions.models import NoteAddendum, NoteRevision, SessionNote

    now = timezone.now()
    own = SessionNote.objects.filter(participant=participant)
    NoteRevision.objects.filter(note__in=own).update(text="", theme="")
    NoteAddendum.objects.filter(note__in=own).update(text="")
    emptied = own.update(text="", theme="", updated_at=now)
    redacted = 0
    if pattern is not None:
        groups = participant.enrollments.values("group_id")
        shared = SessionNote.objects.filter(session__group_id__in=groups).exclude(
            participant=participant
        )
        code = participant.code
        for model, rows, fields in (
            (SessionNote, shared, ("text", "theme")),
            (NoteRevision, NoteRevision.objects.filter(note__in=shared), ("text", "theme")),
            (NoteAddendum, NoteAddendum.objects.filter(note__in=shared), ("text",)),
        ):
            for pk, *values in rows.values_list("pk", *fields):
                changed = {f: redact(v, pattern, code) for f, v in zip(fields, values, strict=True)}
                if changed != dict(zip(fields, values, strict=True)):
                    extra = {"updated_at": now} if model is SessionNote else {}
                    model.objects.filter(pk=pk).update(**changed, **extra)
                    redacted += 1
    scans = [c.scan for c in Consent.objects.filter(participant=participant).exclude(scan="")]
    if scans:
        Consent.objects.filter(participant=participant).update(scan="", updated_at=now)
        files = [(scan.storage, scan.name) for scan in scans]
        transaction.on_commit(lambda: [storage.delete(name) for storage, name in files])
    # Free-text reasons about the person (referral, leaving) live on their enrollments only.
    reasons = participant.enrollments.exclude(end_reason="", referral_reason="").update(
        end_reason="", referral_reason="", updated_at=now
    )
    return {
        "notes_emptied": emptied,
        "notes_redacted": redacted,
        "scans_deleted": len(scans),
        "reasons_emptied": reasons,
    }
