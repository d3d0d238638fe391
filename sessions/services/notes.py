"""Session notes: write, sign and add addenda, by the group's facilitators."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, lock_for_change
from clinics.roles import CLINICAL_ROLES, require_role

from ..models import (
    NoteAddendum,
    NoteRevision,
    Session,
    SessionNote,
)


def _require_group_facilitator(session: Session, user) -> None:
    """Notes are written and read by the facilitators of that group (or the session's substitute)."""
    require_role(user, session.institution_id, CLINICAL_ROLES, _("write session notes"))
    leads = (
        session.group.facilitator_roles.filter(user=user).exists()
        or session.substitute_facilitator_id == user.pk
    )
    if not leads:
        raise PermissionDenied(_("Only the facilitators of this group write its session notes."))


def _require_note_access(note: SessionNote, user) -> None:
    """A note is worked on by the group's facilitators; a private one by its author alone."""
    _require_group_facilitator(note.session, user)
    if note.kind == SessionNote.Kind.PRIVATE and note.author_id != user.pk:
        raise PermissionDenied(_("A private note is for its author alone."))


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
    if not (text or "").strip():
        raise ValidationError({"text": _("The note is empty.")})
    if kind not in SessionNote.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of note.")})
    if kind == SessionNote.Kind.PARTICIPANT:
        if participant is None:
            raise ValidationError({"participant": _("Say whom the note is about.")})
        if participant.institution_id != session.institution_id:
            raise ValidationError({"participant": _("Unknown participant.")})
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
        note.save()
        action = "note.changed"
    if kind == SessionNote.Kind.GROUP and theme and session.theme != theme:
        Session.objects.filter(pk=session.pk).update(theme=theme, updated_at=timezone.now())
    audit_record(
        actor=by, action=action, obj=note, institution=session.institution, details={"kind": kind}
    )
    return note


@transaction.atomic
def note_sign(*, note: SessionNote, by, precondition: Precondition = None) -> SessionNote:
    """Sign a note, which locks it."""
    _require_note_access(note, by)
    note = lock_for_change(note, precondition)
    if note.is_signed:
        raise ValidationError(_("This note is already signed."))
    note.signed_at = timezone.now()
    note.signed_by = by
    note.save()
    audit_record(actor=by, action="note.signed", obj=note, institution=note.session.institution)
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
