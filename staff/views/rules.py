"""The parts of the staff UI that the institution's rules add: the notes waiting for my
co-signature and the sessions whose attendance was not taken (both on Today), co-signing."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from attendance.models import AttendanceNotTaken
from sessions.models import SessionNote
from sessions.policies import sessions_led_q
from sessions.services import note_cosign

from ..access import error_text, staff_view


def today_rules_context(user) -> dict:
    """What Today adds for the rules: trainees' notes to co-sign, attendance not taken."""
    cosign = (
        SessionNote.objects.awaiting_cosignature_by(user)
        .select_related("session__group", "signed_by")
        .order_by("signed_at")
    )
    from sessions.models import Session

    led = Session.objects.filter(sessions_led_q(user)).values("pk")
    not_taken = (
        AttendanceNotTaken.objects.filter(status=AttendanceNotTaken.Status.OPEN, session__in=led)
        .select_related("session__group")
        .order_by("session__starts_at")
    )
    return {"cosign_notes": cosign, "attendance_not_taken": not_taken}


@staff_view
@require_POST
def note_cosign_view(request, pk):
    note = get_object_or_404(SessionNote.objects.readable_by(request.user), pk=pk)
    try:
        note_cosign(note=note, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, _("Co-signed: the note is locked."))
    return redirect("staff:today")
