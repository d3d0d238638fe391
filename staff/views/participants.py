"""Participants: find and register people, and one person's record (every read is audited)."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from attendance.models import AttendanceRecord, Consent
from attendance.services import consent_grant, consent_withdraw
from audit.services import audit_record
from clinics.services import participant_register, participant_update

from .. import search
from ..access import (
    add_service_errors,
    clinical_institutions,
    error_text,
    get_participant,
    groups_for,
    participants_for,
    report_types_for,
    staff_view,
)
from ..forms import ConsentForm, IdentityForm, ParticipantSearchForm, RegisterForm
from .rules import participant_rules_context

PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 20


def _found_people(request, search_form):
    """The list's rows: scoped, filtered, searched, newest first."""
    people = participants_for(request.user)
    if not search_form.is_valid():
        return search.ParticipantSearch(queryset=people.order_by("-number"))
    data = search_form.cleaned_data
    people = search.filter_membership(people, group=data["group"], status=data["membership"])
    if data["consent"]:
        people = search.filter_consent(people, data["consent"])
    found = search.search_participants(request.user, data["q"], people)
    found.queryset = found.queryset.order_by("-number")
    return found


@staff_view
def participant_list(request):
    search_form = ParticipantSearchForm(request.GET, groups=groups_for(request.user))
    found = _found_people(request, search_form)
    page = Paginator(found.queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    search.record_names_shown(request.user, list(page.object_list), found.names)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        institution = clinical_institutions(request.user).order_by("pk").first()
        try:
            if institution is None:
                raise ValidationError(_("Your role does not allow this."))
            participant = participant_register(
                institution=institution, by=request.user, alias=form.cleaned_data["alias"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Registered as %(code)s. Record their consents next.")
                % {"code": participant.code},
            )
            return redirect("staff:participant", participant.pk)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "staff/participants.html",
        {
            "nav": "participants",
            "page": page,
            "people": [
                {"participant": p, "name": found.names.get(p.pk, "")} for p in page.object_list
            ],
            "names_partial": found.names_partial,
            "search": search_form,
            "form": form,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
        status=400 if form.errors else 200,
    )


def _participant_context(request, participant, **forms):
    consents = (
        Consent.objects.filter(participant=participant)
        .select_related("group")
        .order_by("purpose", "-granted_at")
    )
    groups = groups_for(request.user).filter(institution=participant.institution_id)
    attendance = Paginator(
        AttendanceRecord.objects.filter(participant=participant)
        .select_related("session__group")
        .order_by("-session__starts_at", "-pk"),
        HISTORY_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    rules = participant_rules_context(participant)
    return {
        "nav": "participants",
        "participant": participant,
        "report_types": report_types_for(request.user, participant.institution_id),
        **rules,
        "consents": consents,
        "enrollments": participant.enrollments.select_related("group").order_by("-created_at"),
        "attendance": attendance,
        "consent_form": forms.get("consent_form")
        # The version of the institution's current text, if it keeps one; never a guess.
        or ConsentForm(groups=groups, initial={"text_version": rules["consent_text_version"]}),
        "identity_form": forms.get("identity_form")
        or IdentityForm(
            initial={
                "alias": participant.alias,
                "legal_name": participant.legal_name,
                "email": participant.email,
                "phone": participant.phone,
                "reminder_channel": participant.reminder_channel,
                "birth_year": participant.birth_year,
            }
        ),
        "withdraw_errors": forms.get("withdraw_errors", {}),
    }


def _viewed(request, participant):
    audit_record(actor=request.user, action="participant.viewed", obj=participant)


@staff_view
def participant_detail(request, pk):
    participant = get_participant(request.user, pk)
    _viewed(request, participant)
    return render(request, "staff/participant.html", _participant_context(request, participant))


@staff_view
@require_POST
def consent_record(request, pk):
    participant = get_participant(request.user, pk)
    groups = groups_for(request.user).filter(institution=participant.institution_id)
    form = ConsentForm(request.POST, groups=groups)
    if form.is_valid():
        data = form.cleaned_data
        expires_at = None
        if data["expires_on"]:
            expires_at = datetime.datetime.combine(
                data["expires_on"], datetime.time(23, 59), tzinfo=participant.institution.tzinfo
            )
        try:
            consent_grant(
                participant=participant,
                by=request.user,
                purpose=data["purpose"],
                method=data["method"],
                text_version=data["text_version"],
                group=data["group"],
                recipient=data["recipient"],
                expires_at=expires_at,
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"expires_at": "expires_on"})
        else:
            messages.success(request, _("The consent is recorded."))
            return redirect("staff:participant", participant.pk)
    _viewed(request, participant)
    context = _participant_context(request, participant, consent_form=form)
    return render(request, "staff/participant.html", context, status=400)


@staff_view
@require_POST
def consent_withdraw_view(request, pk, consent):
    participant = get_participant(request.user, pk)
    consent = get_object_or_404(Consent.objects.filter(participant=participant), pk=consent)
    try:
        consent_withdraw(consent=consent, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        _viewed(request, participant)
        context = _participant_context(
            request, participant, withdraw_errors={consent.pk: error_text(exc)}
        )
        return render(request, "staff/participant.html", context, status=400)
    messages.success(request, _("The consent is withdrawn, effective now."))
    return redirect("staff:participant", participant.pk)


@staff_view
@require_POST
def participant_identity(request, pk):
    participant = get_participant(request.user, pk)
    form = IdentityForm(request.POST)
    if form.is_valid():
        try:
            participant_update(participant=participant, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("staff:participant", participant.pk)
    _viewed(request, participant)
    context = _participant_context(request, participant, identity_form=form)
    return render(request, "staff/participant.html", context, status=400)
