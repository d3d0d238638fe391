"""Session notes: write, sign, co-sign and add addenda, by role in the group (SPEC "Notes
follow the facilitator's role"; the questions are in sessions.policies)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.roles import CLINICAL_ROLES, require_role

from ..models import (
    GroupFacilitator,
    NoteAddendum,
    NoteRevision,
    Session,
    SessionNote,
)
from ..policies import can_cosign_note, require_note_writer, session_role


def _require_group_facilitator(session: Session, user) -> None:
    """Notes are written by the group's lead, co-facilitators, trainees (or the substitute)."""
    require_role(user, session.institution_id, CLINICAL_ROLES, _("write session notes"))
    require_note_writer(user, session)


def _require_note_access(note: SessionNote, user) -> None:
    """A note is worked on by those who write the group's notes; a private one by its author."""
    _require_group_facilitator(note.session, user)
    if note.kind == SessionNote.Kind.PRIVATE and note.author_id != user.pk:
        raise PermissionDenied(_("A private note is for its author alone."))


def _check_participant_is_member(session: Session, participant) -> None:
    """A participant note is about someone on that session's roster."""
    from attendance.models import Enrollment

    member = (
        Enrollment.objects.filter(group_id=session.group_id, participant=participant)
        .members_on(session.local_date())
        .exists()
    )
    if participant.institution_id != session.institution_id:
        raise ValidationError({"participant": _("Unknown participant.")})
    if not member:
        raise ValidationError(
            {
                "participant": _(
                    "This person was not a member of the group on the day of the session; "
                    "write about them in their own group's session."
                )
            }
        )


@transaction.atomic
def note_write(
    *,
    session: Session,
    by,
    text: str,
    kind: str = SessionNote.Kind.GROUP,
    participant=None,
    theme: str = "",
    precondition: Precondition = None,
) -> SessionNote:
    """Write or edit the group note, a participant's note or one's private note for a session.

    A signed note is locked: edit it only by an addendum. Earlier texts of unsigned notes are kept.
    """
    _require_group_facilitator(session, by)
    if session.status == Session.Status.CANCELLED:
        raise ValidationError(_("A cancelled session has no notes."))
    if not session.has_begun():
        raise ValidationError(_("The session has not begun; write its notes once it has started."))
    if not (text or "").strip():
        raise ValidationError({"text": _("The note is empty.")})
    if kind not in SessionNote.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of note.")})
    if kind == SessionNote.Kind.PARTICIPANT:
        if participant is None:
            raise ValidationError({"participant": _("Say whom the note is about.")})
        _check_participant_is_member(session, participant)
    else:
        participant = None
    lookup = {"session": session, "kind": kind}
    if kind == SessionNote.Kind.PARTICIPANT:
        lookup["participant"] = participant
    if kind == SessionNote.Kind.PRIVATE:
        lookup["author"] = by
    note = SessionNote.objects.select_for_update().filter(**lookup).first()
    if note is not None and precondition is not None:
        precondition(note)  # the API's If-Match, or its refusal to overwrite (POST → 409)
    if note is None:
        note = SessionNote.objects.create(
            session=session,
            kind=kind,
            participant=participant,
            author=by,
            text=text.strip(),
            theme=theme,
        )
        action = "note.created"
    else:
        if note.is_signed:
            raise ValidationError(
                {"text": _("This note is signed and locked; add an addendum instead.")}
            )
        NoteRevision.objects.create(note=note, theme=note.theme, text=note.text, edited_by=by)
        note.text = text.strip()
        note.theme = theme
        # A trainee's signature is for the text they signed: an edit before the co-signature
        # withdraws it, and the note is signed again.
        note.signed_at = note.signed_by = None
        note.needs_cosignature = False
        note.save(
            update_fields=changed_fields(
                "text", "theme", "signed_at", "signed_by", "needs_cosignature"
            )
        )
        action = "note.changed"
    # The theme stays inside the (encrypted) note: Session.theme is read by auditors and by
    # calendar feeds, which never see notes.
    audit_record(
        actor=by, action=action, obj=note, institution=session.institution, details={"kind": kind}
    )
    return note


@transaction.atomic
def note_sign(*, note: SessionNote, by, precondition: Precondition = None) -> SessionNote:
    """Sign a note of a held session. A lead's or co-facilitator's signature locks it; a
    trainee's waits for a co-signature (note_cosign)."""
    _require_note_access(note, by)
    note = lock_for_change(note, precondition)
    if note.signed_at is not None:
        raise ValidationError(_("This note is already signed."))
    session = note.session
    if session.status != Session.Status.HELD:
        raise ValidationError(
            _("A note can be signed once its session is held: take the attendance first.")
        )
    note.signed_at = timezone.now()
    note.signed_by = by
    note.needs_cosignature = session_role(by, session) == GroupFacilitator.Role.TRAINEE
    note.save(update_fields=changed_fields("signed_at", "signed_by", "needs_cosignature"))
    audit_record(
        actor=by,
        action="note.signed",
        obj=note,
        institution=session.institution,
        details={"awaits_cosignature": note.needs_cosignature},
    )
    return note


@transaction.atomic
def note_cosign(*, note: SessionNote, by, precondition: Precondition = None) -> SessionNote:
    """Co-sign a trainee's signed note, which locks it: by the group's lead or co-facilitator
    or one of the institution's supervisors."""
    note = lock_for_change(note, precondition)
    if not note.awaits_cosignature:
        raise ValidationError(_("This note is not waiting for a co-signature."))
    if not can_cosign_note(by, note):
        raise PermissionDenied(
            _(
                "A trainee's note is co-signed by the group's lead, a co-facilitator or a "
                "clinical supervisor, never by the trainee."
            )
        )
    note.cosigned_at = timezone.now()
    note.cosigned_by = by
    note.save(update_fields=changed_fields("cosigned_at", "cosigned_by"))
    audit_record(
        actor=by,
        action="note.cosigned",
        obj=note,
        institution=note.session.institution,
        details={"signed_by": note.signed_by_id},
    )
    return note


@transaction.atomic
def note_add_addendum(*, note: SessionNote, by, text: str) -> NoteAddendum:
    """Add to a signed note without changing what was signed."""
    _require_note_access(note, by)
    note = SessionNote.objects.select_for_update().select_related("session").get(pk=note.pk)
    if not note.is_signed:
        raise ValidationError(
            _("An unsigned note can still be edited; addenda are for signed notes.")
        )
    if not (text or "").strip():
        raise ValidationError({"text": _("The addendum is empty.")})
    addendum = NoteAddendum.objects.create(note=note, author=by, text=text.strip())
    audit_record(actor=by, action="note.addendum", obj=note, institution=note.session.institution)
    return addendum
