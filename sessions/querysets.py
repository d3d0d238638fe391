from django.db.models import Q

from clinics.querysets import TenantQuerySet


def groups_led_by(user) -> list[int]:
    """The ids of the groups `user` (a user or a user id) facilitates, in any role: one small
    query by the index on the facilitator's user."""
    from .models import GroupFacilitator

    user_id = getattr(user, "pk", user)
    return list(
        GroupFacilitator.objects.filter(user_id=user_id)
        .order_by("group_id")
        .values_list("group_id", flat=True)
    )


class SupportGroupQuerySet(TenantQuerySet):
    def facilitated_by(self, user):
        # A semi-join (IN a subquery), not a join + DISTINCT over every column.
        from .models import GroupFacilitator

        led = GroupFacilitator.objects.filter(user_id=getattr(user, "pk", user))
        return self.filter(pk__in=led.values("group_id"))


class SessionQuerySet(TenantQuerySet):
    def facilitated_by(self, user, groups: list[int] | None = None):
        """Sessions `user` (a user or a user id) leads: as one of the group's facilitators or
        as the substitute. `groups`: their groups_led_by, when the caller has them already.

        The groups go in as literal ids, so PostgreSQL reads the (group, starts_at) index of
        those few groups and the substitute's index, and nothing else: EXISTS or a join read
        the institution's whole window and threw most of it away (3,939 rows for 76 on the
        benchmark's data; docs/benchmarks.md).
        """
        user_id = getattr(user, "pk", user)
        led = groups_led_by(user_id) if groups is None else groups
        return self.filter(Q(group_id__in=led) | Q(substitute_facilitator_id=user_id))

    def overlapping(self, starts_at, ends_at):
        return self.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)

    def not_cancelled(self):
        return self.exclude(status="cancelled")


class SessionNoteQuerySet(TenantQuerySet):
    institution_path = "session__institution"

    def readable_by(self, user):
        """Notes are for the facilitators of that group (and that session's substitute) only;
        a private note is for its author alone."""
        from clinics.roles import CLINICAL_ROLES

        if not user.is_authenticated:
            return self.none()
        of_my_groups = Q(session__group__facilitator_roles__user=user) | Q(
            session__substitute_facilitator=user
        )
        # The same roles that may write notes (services._require_group_facilitator): an auditor
        # never reads one, whatever group they were attached to.
        return (
            self.for_user(user, roles=CLINICAL_ROLES)
            .filter(of_my_groups)
            .filter(~Q(kind="private") | Q(author=user))
            .distinct()
        )
