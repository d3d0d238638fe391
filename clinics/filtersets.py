"""Filters for the organisation's rows; the API's lists and the reports both use them.

Every FilterSet takes `updated_since` so a mobile client can sync only what changed.
"""

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .models import Institution, Participant, Room, Site


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number in the database's range (anything else is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


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
    institution = IdFilter(field_name="institution_id")

    class Meta:
        model = Site
        fields = ["institution"]


class RoomFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="site__institution_id")
    site = IdFilter(field_name="site_id")

    class Meta:
        model = Room
        fields = ["institution", "site", "is_active"]


class ParticipantFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")
    alias = django_filters.CharFilter(field_name="alias", lookup_expr="icontains")
    group = IdFilter(
        field_name="enrollments__group_id", distinct=True, label="Enrolled in this group."
    )

    class Meta:
        model = Participant
        fields = ["institution", "code", "alias", "group"]
