"""The floor of the benchmark: bare Django views that return the same rows as the API reads.

No DRF, no serializers, no filter sets: the user from the same knox token (every real request
pays for that), the same tenant scoping and filters written out by hand, `.values()` and
`JsonResponse`. What the API costs beyond these is the price of its framework.

Mounted under /bench-floor/ only when KRAG_BENCH_FLOOR=1 (config/urls.py); never in production.
"""

import datetime

from django.db.models import Q
from django.http import Http404, JsonResponse
from django.urls import path
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from api.authentication import TokenAuthentication
from attendance.models import AttendanceRecord, Enrollment
from clinics.models import Institution, Participant
from clinics.querysets import institution_ids_for
from clinics.roles import CLINICAL_ROLES
from sessions.models import Session


def _user(request):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        raise Http404
    try:
        user, _token = TokenAuthentication().authenticate_credentials(header[6:].encode())
    except AuthenticationFailed:
        raise Http404 from None
    return user


def _page(request, queryset, *fields):
    """One page of `queryset` as dicts of `fields`, and the count (without the joins that the
    related fields need: COUNT over them would cost more than the page)."""
    size = min(int(request.GET.get("page_size", 50)), 200)
    page = int(request.GET.get("page", 1))
    rows = list(queryset.values(*fields)[(page - 1) * size : page * size])
    return {"count": queryset.count(), "results": rows}


def my_sessions_this_week(request):
    user = _user(request)
    week = Q(pk__in=[])
    for pk, zone in Institution.objects.filter(pk__in=institution_ids_for(user)).values_list(
        "pk", "time_zone"
    ):
        tz = Institution(time_zone=zone).tzinfo
        today = timezone.localtime(timezone.now(), tz).date()
        monday = datetime.datetime.combine(
            today - datetime.timedelta(days=today.weekday()), datetime.time.min, tzinfo=tz
        )
        week |= Q(
            institution_id=pk,
            starts_at__gte=monday,
            starts_at__lt=monday + datetime.timedelta(days=7),
        )
    sessions = Session.objects.filter(week).facilitated_by(user).order_by("starts_at", "id")
    fields = (
        "id",
        "institution_id",
        "group_id",
        "group__name",
        "sequence",
        "starts_at",
        "ends_at",
        "room_id",
        "room__name",
        "online_link",
        "status",
        "theme",
        "substitute_facilitator_id",
        "cancelled_by",
        "cancellation_reason",
        "cancelled_at",
        "created_at",
        "updated_at",
    )
    return JsonResponse(_page(request, sessions, *fields))


def roster(request, pk):
    user = _user(request)
    session = (
        Session.objects.for_user(user, roles=CLINICAL_ROLES)
        .filter(pk=pk)
        .values("id", "group_id", "starts_at", "status", "institution__time_zone")
        .first()
    )
    if session is None:
        raise Http404
    tz = Institution(time_zone=session["institution__time_zone"]).tzinfo
    day = timezone.localtime(session["starts_at"], tz).date()
    members = (
        Enrollment.objects.filter(group_id=session["group_id"])
        .members_on(day)
        .order_by("participant__number")
        .values("id", "participant_id", "participant__alias", "is_walk_in")
    )
    records = {
        r["participant_id"]: r
        for r in AttendanceRecord.objects.filter(session_id=pk).values(
            "participant_id", "status", "arrived_at", "left_at", "version", "recorded_at"
        )
    }
    marks = [{**m, **records.pop(m["participant_id"], {}), "on_roster": True} for m in members]
    marks += [{**r, "on_roster": False} for r in records.values()]
    return JsonResponse(
        {"session": session["id"], "session_status": session["status"], "marks": marks}
    )


def participants(request):
    user = _user(request)
    rows = Participant.objects.for_user(user, roles=CLINICAL_ROLES).order_by(
        "institution_id", "number"
    )
    fields = (
        "id",
        "institution_id",
        "institution__name",
        "code",
        "alias",
        "legal_name",
        "email",
        "phone",
        "reminder_channel",
        "birth_year",
        "language",
        "erased_at",
        "created_at",
        "updated_at",
    )
    return JsonResponse(_page(request, rows, *fields))


def attendance(request):
    user = _user(request)
    since = datetime.datetime.fromisoformat(request.GET["updated_since"])
    rows = (
        AttendanceRecord.objects.for_user(user, roles=CLINICAL_ROLES)
        .filter(updated_at__gte=since)
        .order_by("updated_at", "id")
    )
    fields = (
        "id",
        "institution_id",
        "session_id",
        "session__group__name",
        "session__starts_at",
        "participant_id",
        "participant__alias",
        "status",
        "arrived_at",
        "left_at",
        "recorded_by_id",
        "recorded_by__username",
        "recorded_at",
        "source",
        "version",
        "created_at",
        "updated_at",
    )
    return JsonResponse(_page(request, rows, *fields))


urlpatterns = [
    path("sessions/", my_sessions_this_week),
    path("sessions/<int:pk>/attendance/", roster),
    path("participants/", participants),
    path("attendance/", attendance),
]
