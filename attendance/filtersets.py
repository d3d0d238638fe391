"""Filters for enrollments, consents and attendance; the API's lists and reports use them."""

import django_filters

from clinics.filtersets import ChangedSinceFilterSet, IdFilter

from .models import AttendanceRecord, Consent, Enrollment


class EnrollmentFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")
    group = IdFilter(field_name="group_id")
    participant = IdFilter(field_name="participant_id")

    class Meta:
        model = Enrollment
        fields = ["institution", "group", "participant", "status", "is_walk_in"]


class ConsentFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")
    participant = IdFilter(field_name="participant_id")
    group = IdFilter(field_name="group_id")

    class Meta:
        model = Consent
        fields = ["institution", "participant", "group", "purpose", "status"]


class AttendanceRecordFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")
    session = IdFilter(field_name="session_id")
    group = IdFilter(field_name="session__group_id")
    participant = IdFilter(field_name="participant_id")
    starts_after = django_filters.IsoDateTimeFilter(
        field_name="session__starts_at", lookup_expr="gte"
    )
    starts_before = django_filters.IsoDateTimeFilter(
        field_name="session__starts_at", lookup_expr="lt"
    )

    class Meta:
        model = AttendanceRecord
        fields = ["institution", "session", "group", "participant", "status", "source"]
