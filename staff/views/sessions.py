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
from ..idempotency import idempotent
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


def _mark_times(session: Session, status: str, typed: str, record) -> tuple:
    """(arrived_at, left_at) for one tap: "late" takes the arrival time and "left early" the
    leaving time — the one typed, else the one already recorded, else now."""
    if status not in (AttendanceRecord.Status.LATE, AttendanceRecord.Status.LEFT_EARLY):
        return None, None
    try:
        time = datetime.time.fromisoformat(typed) if typed else None
    except ValueError:
        raise ValidationError(_("Give the time as HH:MM.")) from None
    if time is not None:
        time = time.replace(second=0, microsecond=0)
    now = timezone.localtime(timezone.now(), session.institution.tzinfo).time()
    now = now.replace(second=0, microsecond=0)
    if status == AttendanceRecord.Status.LATE:
        kept = record.arrived_at if record is not None else None
        return time or kept or now, None
    kept = record.left_at if record is not None else None
    arrived = record.arrived_at if record is not None else None
    return arrived, time or kept or now


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
            "time": _time_note(
                records[e.participant_id].status,
                records[e.participant_id].arrived_at,
                records[e.participant_id].left_at,
            )
            if e.participant_id in records
            else "",
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


def _time_note(status, arrived_at, left_at) -> str:
    if status == AttendanceRecord.Status.LATE and arrived_at:
        return _("arrived %(time)s") % {"time": arrived_at.strftime("%H:%M")}
    if status == AttendanceRecord.Status.LEFT_EARLY and left_at:
        return _("left %(time)s") % {"time": left_at.strftime("%H:%M")}
    return ""


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _back(session, anchor=""):
    return redirect(reverse("staff:session", args=[session.pk]) + anchor)


@staff_view
@require_POST
@idempotent
def session_mark(request, pk):
    """One tap on the roster: record one person's mark at once."""
    session = get_session(request.user, pk)
    try:
        participant_id = int(request.POST.get("participant", ""))
    except ValueError:
        participant_id = 0
    status = request.POST.get("status", "")
    record = session.attendance_records.filter(participant_id=participant_id).first()
    try:
        arrived_at, left_at = _mark_times(
            session, status, request.POST.get("time", "").strip(), record
        )
        attendance_record(
            session=session,
            marks=[
                Mark(
                    participant_id=participant_id,
                    status=status,
                    arrived_at=arrived_at,
                    left_at=left_at,
                )
            ],
            by=request.user,
        )
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"error": error_text(exc)}, status=400)
        messages.error(request, error_text(exc))
        return _back(session, f"#p-{participant_id}")
    label = dict(AttendanceRecord.Status.choices).get(status, status)
    saved = _("Saved: %(status)s") % {"status": label}
    when = _time_note(status, arrived_at, left_at)
    if when:
        saved = f"{saved} ({when})"
    if _wants_json(request):
        return JsonResponse(
            {
                "status": status,
                "message": saved,
                "time": when,
                "marked_count": session.attendance_records.count(),
            }
        )
    messages.success(request, saved)
    return _back(session, f"#p-{participant_id}")


@staff_view
@require_POST
@idempotent
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
@idempotent
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
                if _wants_json(request):
                    return JsonResponse({"message": _("The note is saved.")})
                return _back(session, f"#p-{participant_id}")
        errors = [e for errs in form.errors.values() for e in errs]
        signed = SessionNote.objects.filter(
            session=session,
            kind=SessionNote.Kind.PARTICIPANT,
            participant_id=getattr(form, "cleaned_data", {}).get("participant"),
            signed_at__isnull=False,
        ).first()
        if _wants_json(request):
            return _note_refused(session, signed, errors, request.POST.get("text", ""))
        drafts = {
            int(participant_id): {
                "text": request.POST.get("text", ""),
                "errors": [SIGNED_MEANWHILE] if signed else errors,
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
            if _wants_json(request):
                return JsonResponse({"message": _("The group note is saved.")})
            return _back(session, "#notes")
    signed = SessionNote.objects.filter(
        session=session, kind=SessionNote.Kind.GROUP, signed_at__isnull=False
    ).first()
    if _wants_json(request):
        errors = [e for errs in form.errors.values() for e in errs]
        return _note_refused(session, signed, errors, _typed_note(request.POST, session))
    if signed:
        # Signed meanwhile (another tab, a co-facilitator): the typed text becomes the draft of
        # an addendum, so nothing typed is lost and nothing signed changes.
        context = _session_context(
            request,
            session,
            addendum_draft={
                "text": _typed_note(request.POST, session),
                "errors": [SIGNED_MEANWHILE],
            },
        )
    else:
        context = _session_context(request, session, note_form=form)
    return render(request, "staff/session.html", context, status=400)


def _note_refused(session, signed, errors: list, text: str) -> JsonResponse:
    """The offline queue's answer: a note signed meanwhile is a conflict (409) with the text
    kept and where to add it as an addendum instead."""
    if signed:
        return JsonResponse(
            {
                "error": str(SIGNED_MEANWHILE),
                "code": "signed",
                "text": text,
                "note": signed.pk,
                "addendum_url": reverse("staff:session_addendum", args=[session.pk]),
            },
            status=409,
        )
    return JsonResponse({"error": " ".join(map(str, errors)), "text": text}, status=400)


SIGNED_MEANWHILE = gettext_lazy(
    "This note was signed meanwhile, so your text was not saved into it. Your text is kept "
    "below: save it as an addendum, or change it first."
)


def _typed_note(data, session) -> str:
    theme, text = data.get("theme", "").strip(), data.get("text", "")
    note = SessionNote.objects.filter(session=session, kind=SessionNote.Kind.GROUP).first()
    if theme and (note is None or theme != note.theme):
        return f"{theme}\n\n{text}"
    return text


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
@idempotent
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
        if _wants_json(request):
            return JsonResponse(
                {"error": error_text(exc), "text": request.POST.get("text", "")}, status=400
            )
        context = _session_context(
            request,
            session,
            addendum_draft={"text": request.POST.get("text", ""), "errors": exc.messages},
        )
        return render(request, "staff/session.html", context, status=400)
    messages.success(request, _("The addendum is saved."))
    if _wants_json(request):
        return JsonResponse({"message": _("The addendum is saved.")})
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
