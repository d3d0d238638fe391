"""Participants' rights in the staff UI, for institution admins: the access export (JSON) and
erasure. Anyone else gets a 404, as for a participant of another institution."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinics.export import participant_export
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, Role, role_of
from clinics.services import participant_erase


def _participant_for_admin(request, pk) -> Participant:
    participant = get_object_or_404(
        Participant.objects.for_user(request.user, roles=CLINICAL_ROLES).select_related(
            "institution"
        ),
        pk=pk,
    )
    if role_of(request.user, participant.institution_id) != Role.ADMIN:
        raise Http404
    return participant


@login_required
def participant_rights(request, pk):
    participant = _participant_for_admin(request, pk)
    errors = []
    if request.method == "POST":
        reason = request.POST.get("reason", "").strip()
        if not reason:
            errors.append(_("Give the reason for the erasure (e.g. the date of the request)."))
        elif request.POST.get("confirm") != participant.code:
            errors.append(_("Type the participant's code to confirm."))
        else:
            try:
                participant_erase(participant=participant, by=request.user, reason=reason)
            except ValidationError as exc:
                errors.extend(exc.messages)
            else:
                messages.success(
                    request,
                    _("%(code)s is erased: identity and contacts are gone for good.")
                    % {"code": participant.code},
                )
                return redirect("staff:participant", pk=participant.pk)
    return render(
        request,
        "staff/security/participant_rights.html",
        {"nav": "participants", "participant": participant, "errors": errors},
        status=400 if errors else 200,
    )


@login_required
@require_POST
def participant_rights_export(request, pk):
    participant = _participant_for_admin(request, pk)
    data = participant_export(participant=participant, by=request.user)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{participant.code}.json"'
    response["Cache-Control"] = "no-store"
    return response
