"""Filters for the organisation's rows; the API's lists and the reports both use them.

Every FilterSet takes `updated_since` so a mobile client can sync only what changed.
"""

import django_filters

from .models import Institution, Participant, Room, Site


class ChangedSinceFilterSet(django_filters.FilterSet):
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Only rows changed at or after this moment (ISO 8601, with a time zone).",
    )


class InstitutionFilterSet(ChangedSinceFilterSet):
    class Meta:
        model = Institution
        fields = ["kind"]


class SiteFilterSet(ChangedSinceFilterSet):
    institution = django_filters.NumberFilter(field_name="institution_id")

    class Meta:
        model = Site
        fields = ["institution"]


class RoomFilterSet(ChangedSinceFilterSet):
    institution = django_filters.NumberFilter(field_name="site__institution_id")
    site = django_filters.NumberFilter(field_name="site_id")

    class Meta:
        model = Room
        fields = ["institution", "site", "is_active"]


class ParticipantFilterSet(ChangedSinceFilterSet):
    institution = django_filters.NumberFilter(field_name="institution_id")
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")
    alias = django_filters.CharFilter(field_name="alias", lookup_expr="icontains")
    group = django_filters.NumberFilter(
        field_name="enrollments__group_id", distinct=True, label="Enrolled in this group."
    )

    class Meta:
        model = Participant
        fields = ["institution", "code", "alias", "group"]
