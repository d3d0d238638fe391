"""The calendar: a day, a week or a month of sessions, filtered by group, facilitator or room.

A facilitator sees their own sessions first (`whose=mine`, the default for anyone who leads a
group, unless the address names a group, a facilitator or a room); everyone's are one choice
away. A month of a large institution holds some 800 sessions: a day of the month shows its
first few and "+N more", a link to that day in full.
"""

import calendar as pycalendar
import datetime
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber, TruncDate
from django.shortcuts import render
from django.utils import timezone

from clinics.models import Institution, Room
from sessions.models import Session, SupportGroup
from sessions.querysets import groups_led_by

from ..access import can_work_with_people, home_institution, staff_view
from ..forms import CalendarFilterForm

# Sessions shown in a day of the month before "+N more" (a phone shows three chips of 44 px).
MONTH_CHIPS = 3
VIEWS = ("day", "week", "month")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _span(view: str, day: datetime.date):
    """(first day shown, last day shown, the previous and the next period's date)."""
    if view == "day":
        one = datetime.timedelta(days=1)
        return day, day, day - one, day + one
    if view == "week":
        first = day - datetime.timedelta(days=day.weekday())
        week = datetime.timedelta(days=7)
        return first, first + datetime.timedelta(days=6), first - week, first + week
    month_start = day.replace(day=1)
    days_in_month = pycalendar.monthrange(day.year, day.month)[1]
    month_end = month_start.replace(day=days_in_month)
    first = month_start - datetime.timedelta(days=month_start.weekday())
    last = month_end + datetime.timedelta(days=6 - month_end.weekday())
    previous = (month_start - datetime.timedelta(days=1)).replace(day=1)
    return first, last, previous, month_end + datetime.timedelta(days=1)


def _default_whose(request, led: list[int]) -> str:
    """Mine for a user who leads a group, unless the address already narrows the calendar."""
    if any(request.GET.get(name) for name in ("group", "facilitator", "room")):
        return "all"
    return "mine" if led else "all"


@staff_view
def calendar(request):
    user = request.user
    today = timezone.localdate()
    try:
        day = datetime.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = today
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "week"
    first, last, previous, following = _span(view, day)
    led = groups_led_by(user)
    whose = request.GET.get("whose")
    if whose not in ("mine", "all"):
        whose = _default_whose(request, led)
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    # Sessions carry no names of participants, so every role (auditors too) may see the calendar.
    sessions = Session.objects.for_user(user).filter(starts_at__gte=start, starts_at__lt=end)
    if whose == "mine":
        sessions = sessions.facilitated_by(user, groups=led)
    group_id = _int(request.GET.get("group"))
    facilitator_id = _int(request.GET.get("facilitator"))
    room_id = _int(request.GET.get("room"))
    if group_id:
        sessions = sessions.filter(group_id=group_id)
    if facilitator_id:
        sessions = sessions.facilitated_by(facilitator_id)
    if room_id:
        sessions = sessions.filter(room_id=room_id)
    # Only what a chip shows, as plain rows: a month of a large institution is ~800 sessions,
    # and building (even parsing) 800 of them cost more than the rest of the page. A month
    # reads each day's first few and the day's count, numbered by the database.
    fields = ["pk", "starts_at", "ends_at", "status", "group__name", "room__name"]
    local_day = TruncDate("starts_at", tzinfo=tz)
    if view == "month":
        in_order = [F("starts_at").asc(), F("pk").asc()]
        sessions = sessions.annotate(
            nth=Window(RowNumber(), partition_by=[local_day], order_by=in_order),
            on_day=Window(Count("pk"), partition_by=[local_day]),
        ).filter(nth__lte=MONTH_CHIPS)
        fields.append("on_day")
    rows = (
        sessions.annotate(local_day=local_day)
        .order_by("starts_at", "pk")
        .values("local_day", *fields)
    )
    by_day: dict[datetime.date, list] = {}
    for row in rows:
        by_day.setdefault(row["local_day"], []).append(row)
    statuses = dict(Session.Status.choices)
    days = []
    for i in range((last - first).days + 1):
        date = first + datetime.timedelta(days=i)
        on_day = by_day.get(date, [])
        shown = [
            {
                "pk": row["pk"],
                "starts_at": row["starts_at"],
                "ends_at": row["ends_at"],
                "status": row["status"],
                "status_label": statuses.get(row["status"], row["status"]),
                "group": row["group__name"],
                "room": row["room__name"],
            }
            for row in on_day
        ]
        total = on_day[0].get("on_day", len(on_day)) if on_day else 0
        days.append(
            {
                "date": date,
                "sessions": shown,
                "more": total - len(shown),
                "other": view == "month" and date.month != day.month,
            }
        )
    institution = home_institution(user)
    filter_form = CalendarFilterForm(
        {**request.GET.dict(), "view": view, "whose": whose},
        groups=SupportGroup.objects.for_user(user),
        facilitators=get_user_model().objects.filter(
            memberships__institution__in=Institution.objects.for_user(user).values("pk")
        ),
        institution=institution,
        rooms=Room.objects.for_user(user).select_related("site"),
    )
    # The filters every link of the page keeps (the period's links change view and date only).
    keep = urlencode(
        {
            "whose": whose,
            **{
                name: value
                for name, value in (
                    ("group", group_id),
                    ("facilitator", facilitator_id),
                    ("room", room_id),
                )
                if value
            },
        }
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
            "weekday_headers": [d["date"] for d in days[:7]] if view != "day" else [],
            "previous": previous,
            "following": following,
            "filter_form": filter_form,
            "keep": keep,
            "institution": institution,
            "can_open_sessions": institution is not None
            and can_work_with_people(user, institution),
        },
    )
