"""The session screen: roster marking one tap at a time, walk-ins, notes, signing; and the
planner's cancel and reschedule."""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from attendance.models import AttendanceRecord
from attendance.policies import attendance_refusal
from attendance.services import Mark, attendance_record, session_roster
from clinics.models import Room
from sessions.models import Session, SessionNote, SupportGroup
from sessions.policies import leads_session
from sessions.services import (
    note_add_addendum,
    note_sign,
    note_write,
    session_cancel,
    session_mark_not_held,
    session_reschedule,
)

from ..access import (
    add_service_errors,
    can_plan,
    error_text,
    get_session,
    participants_for,
    staff_view,
)
from ..forms import CancelForm, NoteForm, ParticipantNoteForm, RescheduleForm, WalkInForm
from ..services import walk_in_register

# Short labels that fit the buttons on a 360-pixel screen; the full one is read aloud.
SHORT_LABELS = {
    AttendanceRecord.Status.PRESENT: gettext_lazy("Present"),
    AttendanceRecord.Status.LATE: gettext_lazy("Late"),
    AttendanceRecord.Status.LEFT_EARLY: gettext_lazy("Left early"),
    AttendanceRecord.Status.EXCUSED: gettext_lazy("Excused"),
    AttendanceRecord.Status.UNEXCUSED: gettext_lazy("Absent"),
}


def _leads(session: Session, user) -> bool:
    return leads_session(user, session)


def _attendance_refusal(session: Session) -> str:
    """Why attendance cannot be taken now, or "" (the service says the same on a POST)."""
    return attendance_refusal(session)


def _session_context(request, session: Session, **forms) -> dict:
    user = request.user
    roster = session_roster(session)
    records = {r.participant_id: r for r in session.attendance_records.all()}
    leads = _leads(session, user)
    notes = {}
    group_note = None
    if leads:
        for note in SessionNote.objects.readable_by(user).filter(session=session):
            if note.kind == SessionNote.Kind.GROUP:
                group_note = note
            elif note.kind == SessionNote.Kind.PARTICIPANT:
                notes[note.participant_id] = note
    drafts = forms.pop("drafts", {})
    rows = [
        {
            "enrollment": e,
            "participant": e.participant,
            "status": records[e.participant_id].status if e.participant_id in records else "",
            "note": notes.get(e.participant_id),
            "draft": drafts.get(e.participant_id),
        }
        for e in roster
    ]
    note_form = forms.pop("note_form", None) or NoteForm(
        initial={
            "theme": group_note.theme if group_note else session.theme,
            "text": group_note.text if group_note else "",
        }
    )
    walk_in_form = forms.pop("walk_in_form", None) or WalkInForm()
    addenda = list(group_note.addenda.order_by("created_at")) if group_note else []
    unsigned = [n for n in [group_note, *notes.values()] if n is not None and not n.is_signed]
    return {
        "nav": "today",
        "session": session,
        "group": session.group,
        "rows": rows,
        "statuses": [
            (value, SHORT_LABELS[value], label) for value, label in AttendanceRecord.Status.choices
        ],
        "refusal": _attendance_refusal(session),
        "marked_count": len(records),
        "leads": leads,
        "group_note": group_note,
        "note_form": note_form,
        "walk_in_form": walk_in_form,
        "accepts_walk_ins": session.group.membership_mode == SupportGroup.MembershipMode.OPEN,
        "unsigned": unsigned,
        "addenda": addenda,
        "addendum_draft": forms.pop("addendum_draft", None),
        "can_mark_not_held": session.status in (Session.Status.SCHEDULED, Session.Status.HELD)
        and session.has_begun(),
        "can_plan": can_plan(user, session.institution_id),
        "can_move": session.status == Session.Status.SCHEDULED and not session.has_begun(),
    }


@staff_view
def session_detail(request, pk):
    session = get_session(request.user, pk)
    return render(request, "staff/session.html", _session_context(request, session))


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _back(session, anchor=""):
    return redirect(reverse("staff:session", args=[session.pk]) + anchor)


@staff_view
@require_POST
def session_mark(request, pk):
    """One tap on the roster: record one person's mark at once."""
    session = get_session(request.user, pk)
    try:
        participant_id = int(request.POST.get("participant", ""))
    except ValueError:
        participant_id = 0
    status = request.POST.get("status", "")
    try:
        attendance_record(
            session=session,
            marks=[Mark(participant_id=participant_id, status=status)],
            by=request.user,
        )
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"error": error_text(exc)}, status=400)
        messages.error(request, error_text(exc))
        return _back(session, f"#p-{participant_id}")
    label = dict(AttendanceRecord.Status.choices).get(status, status)
    if _wants_json(request):
        return JsonResponse(
            {
                "status": status,
                "message": _("Saved: %(status)s") % {"status": label},
                "marked_count": session.attendance_records.count(),
            }
        )
    messages.success(request, _("Saved: %(status)s") % {"status": label})
    return _back(session, f"#p-{participant_id}")


@staff_view
@require_POST
def session_mark_all(request, pk):
    """Everyone not yet marked is present; the exceptions are then one tap each."""
    session = get_session(request.user, pk)
    marked = set(session.attendance_records.values_list("participant_id", flat=True))
    marks = [
        Mark(participant_id=e.participant_id, status=AttendanceRecord.Status.PRESENT)
        for e in session_roster(session)
        if e.participant_id not in marked
    ]
    if not marks and not _attendance_refusal(session):
        messages.info(request, _("Everyone on the roster is already marked."))
        return _back(session)
    try:
        attendance_record(session=session, marks=marks, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("%(n)s marked present. Now tap the exceptions.") % {"n": len(marks)}
        )
    return _back(session)


@staff_view
@require_POST
def session_note(request, pk):
    """Write the group note or one person's note; on an error the page keeps what was typed."""
    session = get_session(request.user, pk)
    if request.POST.get("participant"):
        form = ParticipantNoteForm(request.POST)
        participant_id = request.POST.get("participant")
        if form.is_valid():
            participant = (
                participants_for(request.user).filter(pk=form.cleaned_data["participant"]).first()
            )
            try:
                if participant is None:
                    raise ValidationError(_("Unknown participant."))
                note_write(
                    session=session,
                    by=request.user,
                    kind=SessionNote.Kind.PARTICIPANT,
                    participant=participant,
                    text=form.cleaned_data["text"],
                )
            except (ValidationError, PermissionDenied) as exc:
                message = error_text(exc) if isinstance(exc, ValidationError) else str(exc)
                form.add_error(None, message)
            else:
                messages.success(request, _("The note is saved."))
                return _back(session, f"#p-{participant_id}")
        drafts = {
            int(participant_id): {
                "text": request.POST.get("text", ""),
                "errors": [e for errs in form.errors.values() for e in errs],
            }
        }
        context = _session_context(request, session, drafts=drafts)
        return render(request, "staff/session.html", context, status=400)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            note_write(
                session=session,
                by=request.user,
                kind=SessionNote.Kind.GROUP,
                theme=form.cleaned_data["theme"],
                text=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The group note is saved."))
            return _back(session, "#notes")
    context = _session_context(request, session, note_form=form)
    return render(request, "staff/session.html", context, status=400)


@staff_view
@require_POST
def session_sign(request, pk):
    """Sign and lock this session's unsigned notes; later changes are addenda."""
    session = get_session(request.user, pk)
    notes = SessionNote.objects.readable_by(request.user).filter(
        session=session, signed_at__isnull=True
    )
    signed = 0
    try:
        for note in notes:
            note_sign(note=note, by=request.user)
            signed += 1
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    if signed:
        messages.success(request, _("%(n)s notes signed and locked.") % {"n": signed})
    elif not notes:
        messages.info(request, _("There is nothing to sign."))
    return _back(session, "#notes")


@staff_view
@require_POST
def session_walk_in(request, pk):
    session = get_session(request.user, pk)
    form = WalkInForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        participant = None
        if data["existing"].strip():
            participant = (
                participants_for(request.user)
                .filter(institution=session.institution_id, code__iexact=data["existing"].strip())
                .first()
            )
            if participant is None:
                form.add_error("existing", _("No participant has this code."))
        if not form.errors:
            try:
                enrollment = walk_in_register(
                    session=session,
                    by=request.user,
                    method=data["method"],
                    text_version=data["text_version"],
                    alias=data["alias"],
                    participant=participant,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(alias)s (%(code)s) joined the group and is on today's roster.")
                    % {"alias": enrollment.participant.alias, "code": enrollment.participant.code},
                )
                return _back(session, f"#p-{enrollment.participant_id}")
    context = _session_context(request, session, walk_in_form=form)
    return render(request, "staff/session.html", context, status=400)


@staff_view
def session_cancel_view(request, pk):
    session = get_session(request.user, pk)
    if not can_plan(request.user, session.institution_id):
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": _("cancel sessions")}
        )
    form = CancelForm(request.POST or None, initial={"cancelled_by": Session.CancelledBy.CENTRE})
    if request.method == "POST" and form.is_valid():
        try:
            session_cancel(
                session=session,
                by=request.user,
                reason=form.cleaned_data["reason"],
                cancelled_by=form.cleaned_data["cancelled_by"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The session is cancelled; members are being told."))
            return redirect("staff:group", session.group_id)
    return render(
        request,
        "staff/session_cancel.html",
        {"nav": "groups", "session": session, "form": form},
        status=400 if form.errors else 200,
    )


@staff_view
def session_reschedule_view(request, pk):
    session = get_session(request.user, pk)
    if not can_plan(request.user, session.institution_id):
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": _("reschedule sessions")}
        )
    rooms = Room.objects.for_institution(session.institution).filter(is_active=True)
    local_start = timezone.localtime(session.starts_at)
    local_end = timezone.localtime(session.ends_at)
    form = RescheduleForm(
        request.POST or None,
        rooms=rooms,
        initial={
            "date": local_start.date(),
            "start_time": local_start.time().replace(second=0, microsecond=0),
            "end_time": local_end.time().replace(second=0, microsecond=0),
            "room": session.room_id,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        tz = session.institution.tzinfo
        starts_at = datetime.datetime.combine(data["date"], data["start_time"], tzinfo=tz)
        ends_at = datetime.datetime.combine(data["date"], data["end_time"], tzinfo=tz)
        try:
            session_reschedule(
                session=session,
                by=request.user,
                starts_at=starts_at,
                ends_at=ends_at,
                room=data["room"] if data["room"] else None,
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"starts_at": "date", "ends_at": "end_time"})
        else:
            messages.success(request, _("The session is moved; members are being told."))
            return redirect("staff:session", session.pk)
    return render(
        request,
        "staff/session_reschedule.html",
        {"nav": "groups", "session": session, "form": form},
        status=400 if form.errors else 200,
    )


@staff_view
@require_POST
def session_addendum(request, pk):
    """Add to a signed note; what was signed stays as it was."""
    session = get_session(request.user, pk)
    note = (
        SessionNote.objects.readable_by(request.user)
        .filter(session=session, pk=request.POST.get("note") or 0)
        .first()
    )
    if note is None:
        raise Http404
    try:
        note_add_addendum(note=note, by=request.user, text=request.POST.get("text", ""))
    except ValidationError as exc:
        context = _session_context(
            request,
            session,
            addendum_draft={"text": request.POST.get("text", ""), "errors": exc.messages},
        )
        return render(request, "staff/session.html", context, status=400)
    messages.success(request, _("The addendum is saved."))
    return _back(session, "#notes")


@staff_view
@require_POST
def session_not_held(request, pk):
    """The quorum was not reached: the session did not take place."""
    session = get_session(request.user, pk)
    try:
        session_mark_not_held(
            session=session, by=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("The session is recorded as not held."))
    return _back(session)
