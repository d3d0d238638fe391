"""Searching the audit log: the staff UI's audit page and the API's audit-events/ share it."""

import datetime

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


def admin_institutions(user):
    """The institutions whose log this user may read: those they are an active admin of."""
    from clinics.models import Institution, StaffMembership

    if not user.is_authenticated:
        return Institution.objects.none()
    if user.is_superuser:
        return Institution.objects.all()
    return Institution.objects.filter(
        memberships__user=user,
        memberships__role=StaffMembership.Role.ADMIN,
        memberships__is_active=True,
    )


def _midnight(day: datetime.date) -> datetime.datetime:
    """The start of `day` in the current time zone (the user's, as the page shows times)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


def _institutions(request):
    return admin_institutions(request.user) if request is not None else AuditEvent.objects.none()


class AuditEventFilterSet(django_filters.FilterSet):
    institution = django_filters.ModelChoiceFilter(
        queryset=_institutions, field_name="institution", label=_("Institution")
    )
    since = django_filters.DateFilter(method="filter_since", label=_("From (date)"))
    until = django_filters.DateFilter(method="filter_until", label=_("Until (date)"))
    actor = django_filters.CharFilter(
        field_name="actor_username", lookup_expr="iexact", label=_("User (username)")
    )
    action = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", label=_("Action (e.g. participant.)")
    )
    participant = django_filters.CharFilter(
        method="filter_participant", label=_("Participant (code, e.g. P-00042)")
    )
    object_type = django_filters.CharFilter(field_name="object_type", label=_("Object type"))
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))

    class Meta:
        model = AuditEvent
        fields = ["institution", "since", "until", "actor", "action", "participant"]

    # Days are local days, turned into a range of instants: `created_at >= …` walks the
    # (institution, created_at, id) index, where `created_at::date >= …` reads every row.
    def filter_since(self, queryset, name, value):
        return queryset.filter(created_at__gte=_midnight(value))

    def filter_until(self, queryset, name, value):
        return queryset.filter(created_at__lt=_midnight(value + datetime.timedelta(days=1)))

    def filter_participant(self, queryset, name, value):
        """Events on this person's record: by code, within the institutions already in scope
        (the same code exists in every institution)."""
        from clinics.models import Participant

        ids = list(
            Participant.objects.filter(
                code__iexact=value.strip(), institution__in=queryset.values("institution")
            ).values_list("pk", flat=True)
        )
        on_the_record = Q(
            object_type=Participant._meta.label_lower, object_id__in=[str(pk) for pk in ids]
        )
        on_a_listed_page = Q(pk__in=[])  # audit.services.listed_details
        for pk in ids:
            on_a_listed_page |= Q(
                action="participant.listed", details__id_list__icontains=f",{pk},"
            )
        return queryset.filter(on_the_record | on_a_listed_page)
