"""The parts of the staff UI that the institution's rules add: the notes waiting for my
co-signature and the sessions whose attendance was not taken (both on Today), co-signing."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from attendance.models import AttendanceNotTaken, Consent
from sessions.models import SessionNote
from sessions.policies import sessions_led_q
from sessions.services import note_cosign

from ..access import error_text, get_participant, staff_view


def today_rules_context(user) -> dict:
    """What Today adds for the rules: trainees' notes to co-sign, attendance not taken."""
    cosign = (
        SessionNote.objects.awaiting_cosignature_by(user)
        .select_related("session__group", "signed_by")
        .order_by("signed_at")
    )
    not_taken = (
        AttendanceNotTaken.objects.filter(
            sessions_led_q(user, through="session__"), status=AttendanceNotTaken.Status.OPEN
        )
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


# --- Consent texts and scans ----------------------------------------------------------------


def participant_rules_context(participant) -> dict:
    """What the participant screen adds for the rules: the consent texts in force, in the
    person's language, shown while a consent is recorded."""
    from attendance.services import consent_texts_current

    institution = participant.institution
    language = participant.language or institution.language
    texts = consent_texts_current(institution, language)
    return {
        "consent_texts": [
            (Consent.Purpose(purpose).label, text) for purpose, text in texts.items()
        ],
        "consent_text_version": texts[Consent.Purpose.PARTICIPATION].version
        if Consent.Purpose.PARTICIPATION in texts
        else "",
    }


@staff_view
@require_POST
def consent_scan_upload(request, pk, consent):
    """Attach the scan of a signed form (PDF, JPEG or PNG, at most 10 MB)."""
    from attendance.services import consent_attach_scan

    participant = get_participant(request.user, pk)
    consent = get_object_or_404(Consent.objects.filter(participant=participant), pk=consent)
    scan = request.FILES.get("scan")
    if scan is None:
        messages.error(request, _("Choose the file of the scan."))
    else:
        try:
            consent_attach_scan(consent=consent, scan=scan, by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            text = error_text(exc) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, text)
        else:
            messages.success(request, _("The scan is attached."))
    return redirect("staff:participant", participant.pk)


@staff_view
def consent_scan_download(request, pk, consent):
    """The scan of a signed form, to those allowed only; every download is audited."""
    from attendance.services import consent_scan_open

    participant = get_participant(request.user, pk)
    consent = get_object_or_404(Consent.objects.filter(participant=participant), pk=consent)
    try:
        handle, kind = consent_scan_open(consent=consent, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("staff:participant", participant.pk)
    response = FileResponse(handle, content_type=kind, as_attachment=True)
    response["Cache-Control"] = "no-store"
    return response
