"""The calendar: a week or a month of sessions, filtered by group, facilitator or room."""

import calendar as pycalendar
import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from clinics.models import Institution, Room
from sessions.models import Session, SupportGroup

from ..access import can_work_with_people, home_institution, staff_view
from ..forms import CalendarFilterForm


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@staff_view
def calendar(request):
    user = request.user
    today = timezone.localdate()
    try:
        day = datetime.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = today
    view = "month" if request.GET.get("view") == "month" else "week"
    if view == "week":
        first = day - datetime.timedelta(days=day.weekday())
        last = first + datetime.timedelta(days=6)
        previous, following = first - datetime.timedelta(days=7), first + datetime.timedelta(days=7)
    else:
        month_start = day.replace(day=1)
        days_in_month = pycalendar.monthrange(day.year, day.month)[1]
        month_end = month_start.replace(day=days_in_month)
        first = month_start - datetime.timedelta(days=month_start.weekday())
        last = month_end + datetime.timedelta(days=6 - month_end.weekday())
        previous = (month_start - datetime.timedelta(days=1)).replace(day=1)
        following = month_end + datetime.timedelta(days=1)
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    # Sessions carry no names of participants, so every role (auditors too) may see the calendar.
    sessions = (
        Session.objects.for_user(user)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .select_related("group", "room")
        .order_by("starts_at")
    )
    group_id = _int(request.GET.get("group"))
    facilitator_id = _int(request.GET.get("facilitator"))
    room_id = _int(request.GET.get("room"))
    if group_id:
        sessions = sessions.filter(group_id=group_id)
    if facilitator_id:
        sessions = sessions.filter(
            Q(group__facilitator_roles__user_id=facilitator_id)
            | Q(substitute_facilitator_id=facilitator_id)
        ).distinct()
    if room_id:
        sessions = sessions.filter(room_id=room_id)
    by_day: dict[datetime.date, list] = {}
    for session in sessions:
        by_day.setdefault(timezone.localtime(session.starts_at).date(), []).append(session)
    days = [
        {
            "date": first + datetime.timedelta(days=i),
            "sessions": by_day.get(first + datetime.timedelta(days=i), []),
            "other": view == "month" and (first + datetime.timedelta(days=i)).month != day.month,
        }
        for i in range((last - first).days + 1)
    ]
    institution = home_institution(user)
    filter_form = CalendarFilterForm(
        {**request.GET.dict(), "view": view},
        groups=SupportGroup.objects.for_user(user),
        facilitators=get_user_model().objects.filter(
            memberships__institution__in=Institution.objects.for_user(user).values("pk")
        ),
        institution=institution,
        rooms=Room.objects.for_user(user).select_related("site"),
    )
    return render(
        request,
        "staff/calendar.html",
        {
            "nav": "calendar",
            "view": view,
            "day": day,
            "today": today,
            "days": days,
            "weekday_headers": [d["date"] for d in days[:7]],
            "previous": previous,
            "following": following,
            "filter_form": filter_form,
            "group_id": group_id,
            "facilitator_id": facilitator_id,
            "room_id": room_id,
            "institution": institution,
            "can_open_sessions": institution is not None
            and can_work_with_people(user, institution),
            "filters": request.GET.copy(),
        },
    )
