"""How the staff UI finds what a user may see, and turns service refusals into form errors.

Every lookup goes through `for_user`, so another institution's object is a 404 like a missing one.
"""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinics.models import Institution, Participant
from clinics.roles import CLINICAL_ROLES, PLANNING_ROLES, role_of
from sessions.models import Session, SupportGroup


def staff_view(view):
    """Login required; dates and times shown in the user's institution's time zone."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        institution = home_institution(request.user)
        if institution is None:
            return view(request, *args, **kwargs)
        # Activated for this request only: the thread serves other users next.
        timezone.activate(institution.tzinfo)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


def home_institution(user) -> Institution | None:
    """The institution the user works in (the first one, for the rare user of several)."""
    if not hasattr(user, "_krag_home"):
        user._krag_home = Institution.objects.for_user(user).order_by("pk").first()
    return user._krag_home


def clinical_institutions(user):
    return Institution.objects.for_user(user, roles=CLINICAL_ROLES)


def groups_for(user):
    """Groups whose members and attendance the user may work with (not auditors)."""
    return SupportGroup.objects.for_user(user, roles=CLINICAL_ROLES)


def sessions_for(user):
    return Session.objects.for_user(user, roles=CLINICAL_ROLES)


def participants_for(user):
    return Participant.objects.for_user(user, roles=CLINICAL_ROLES)


def get_group(user, pk) -> SupportGroup:
    return get_object_or_404(groups_for(user).select_related("institution", "default_room"), pk=pk)


def get_session(user, pk) -> Session:
    return get_object_or_404(
        sessions_for(user).select_related("group", "institution", "room__site"), pk=pk
    )


def get_participant(user, pk) -> Participant:
    return get_object_or_404(participants_for(user).select_related("institution"), pk=pk)


def can_plan(user, institution) -> bool:
    return role_of(user, institution) in PLANNING_ROLES


def can_work_with_people(user, institution) -> bool:
    return role_of(user, institution) in CLINICAL_ROLES


def report_types_for(user, institution) -> list[str]:
    """The report types the user's role in `institution` may request (reports/privacy.py)."""
    from reports.privacy import ALLOWED_ROLES

    role = role_of(user, institution) if institution is not None else None
    return [kind for kind, roles in ALLOWED_ROLES.items() if role in roles]


def add_service_errors(form, exc: ValidationError, field_map: dict | None = None) -> None:
    """Put a service's refusal next to the field it is about, or above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            field = (field_map or {}).get(field, field)
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)
