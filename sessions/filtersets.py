"""Filters for groups, sessions and notes; the API's lists and the reports both use them."""

import datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clinics.filtersets import ChangedSinceFilterSet, IdFilter
from clinics.models import Institution
from clinics.querysets import time_zones_of

from .models import Session, SessionNote, SupportGroup


class SupportGroupFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")
    facilitator = IdFilter(method="filter_facilitator", label="Led by this user (id).")

    class Meta:
        model = SupportGroup
        fields = ["institution", "category", "status", "membership_mode", "facilitator"]

    def filter_facilitator(self, queryset, name, value):
        return queryset.facilitated_by(value)


def _parse_day(value: str, today: datetime.date, name: str = "date") -> datetime.date:
    words = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if value in words:
        return today + datetime.timedelta(days=words[value])
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {name: _("Give a date as YYYY-MM-DD, or today, tomorrow or yesterday.")}
        ) from None


def local_days_q(user, first_day, days: int) -> Q:
    """Sessions starting on `days` local calendar days from `first_day` in their institution's
    time zone ("today" means today where the institution is)."""
    q = Q(pk__in=[])
    for pk, zone in time_zones_of(user).items():
        tz = Institution(time_zone=zone).tzinfo
        today = timezone.localtime(timezone.now(), tz).date()
        day = first_day(today)
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(
            day + datetime.timedelta(days=days), datetime.time.min, tzinfo=tz
        )
        q |= Q(institution_id=pk, starts_at__gte=start, starts_at__lt=end)
    return q


class SessionFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")
    group = IdFilter(field_name="group_id")
    facilitator = IdFilter(
        method="filter_facilitator", label="Led by this user (id), also as the substitute."
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine", label="true: only the sessions you lead (or substitute at)."
    )
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    date = django_filters.CharFilter(
        method="filter_date",
        label="Sessions on this local day: YYYY-MM-DD, today, tomorrow or yesterday "
        "(in each institution's time zone). `?mine=true&date=today` is “my sessions today”.",
    )
    week = django_filters.CharFilter(
        method="filter_week",
        label="Sessions in the Monday-to-Sunday week containing this day (YYYY-MM-DD, today, "
        "tomorrow or yesterday).",
    )

    class Meta:
        model = Session
        fields = ["institution", "group", "status", "facilitator", "mine"]

    def filter_facilitator(self, queryset, name, value):
        return queryset.facilitated_by(value)

    def filter_mine(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.facilitated_by(self.request.user)

    def _days(self, queryset, name, value, days, to_first):
        _parse_day(value, timezone.localdate(), name)  # refuse nonsense before the query
        return queryset.filter(
            local_days_q(self.request.user, lambda today: to_first(_parse_day(value, today)), days)
        )

    def filter_date(self, queryset, name, value):
        return self._days(queryset, name, value, 1, lambda day: day)

    def filter_week(self, queryset, name, value):
        return self._days(
            queryset, name, value, 7, lambda day: day - datetime.timedelta(days=day.weekday())
        )


class SessionNoteFilterSet(ChangedSinceFilterSet):
    session = IdFilter(field_name="session_id")
    group = IdFilter(field_name="session__group_id")
    participant = IdFilter(field_name="participant_id")

    class Meta:
        model = SessionNote
        fields = ["session", "group", "participant", "kind"]
