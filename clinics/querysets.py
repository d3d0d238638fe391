"""How to find tenant-owned rows: every query is scoped through the user, once, here."""

from django.db import models


def institution_ids_for(user, roles=None):
    """A subquery of the institutions where `user` holds an active membership (with `roles`)."""
    from .models import Institution, StaffMembership

    if not user or not user.is_authenticated:
        return Institution.objects.none().values("pk")
    if user.is_superuser:
        return Institution.objects.values("pk")
    memberships = StaffMembership.objects.filter(user=user, is_active=True)
    if roles:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("institution_id")


def memberships_of(user) -> dict[int, str]:
    """{institution id: role} of the user's active memberships, read once per user object.

    A request has a user object of its own, so this is one query per request however many
    scoped querysets and role checks the request makes. Services that change memberships
    call forget_memberships().
    """
    if getattr(user, "_krag_roles", None) is None:
        _read_memberships(user)
    return user._krag_roles


def time_zones_of(user) -> dict[int, str]:
    """{institution id: time zone name} of the user's institutions (superusers: all), read with
    the memberships: "today" is the institution's today."""
    if user.is_superuser:
        from .models import Institution

        return dict(Institution.objects.values_list("pk", "time_zone"))
    if getattr(user, "_krag_time_zones", None) is None:
        _read_memberships(user)
    return user._krag_time_zones


def _read_memberships(user) -> None:
    from .models import StaffMembership

    rows = StaffMembership.objects.filter(user=user, is_active=True).values_list(
        "institution_id", "role", "institution__time_zone"
    )
    roles, zones = {}, {}
    for institution_id, role, zone in rows:
        roles[institution_id] = role
        zones[institution_id] = zone
    # Whole dicts, the roles last: another thread holding the same user object sees either
    # nothing yet (and reads them itself) or everything.
    user._krag_time_zones = zones
    user._krag_roles = roles


def forget_memberships(user) -> None:
    user.__dict__.pop("_krag_roles", None)
    user.__dict__.pop("_krag_time_zones", None)


class TenantQuerySet(models.QuerySet):
    """A QuerySet whose rows belong to one institution, reached through `institution_path`."""

    institution_path = "institution"

    def for_user(self, user, roles=None):
        """Rows of the institutions `user` belongs to; everything else is as if it did not exist.

        The institutions go into the query as literal ids (memberships_of: one small query
        per request): `institution_id IN (7)` lets PostgreSQL walk an index in the page's order
        and stop at its LIMIT, which `IN (SELECT …)` does not (a sync page of 100 attendance
        records: 36 ms → 3 ms on the benchmark's data, docs/benchmarks.md).
        """
        if user and user.is_authenticated and not user.is_superuser:
            ids = [i for i, role in memberships_of(user).items() if not roles or role in roles]
        else:
            ids = institution_ids_for(user, roles)
        return self.filter(**{f"{self.institution_path}__in": ids})

    def for_institution(self, institution):
        return self.filter(**{self.institution_path: institution})


class InstitutionQuerySet(TenantQuerySet):
    institution_path = "pk"


class SiteQuerySet(TenantQuerySet):
    pass


class RoomQuerySet(TenantQuerySet):
    institution_path = "site__institution"


class ParticipantQuerySet(TenantQuerySet):
    def not_erased(self):
        return self.filter(erased_at__isnull=True)
