from django.db.models import Exists, OuterRef, Q

from clinics.querysets import TenantQuerySet


class SupportGroupQuerySet(TenantQuerySet):
    def facilitated_by(self, user):
        return self.filter(facilitator_roles__user=user).distinct()


class SessionQuerySet(TenantQuerySet):
    def facilitated_by(self, user):
        """Sessions `user` leads: as one of the group's facilitators or as the substitute."""
        from .models import GroupFacilitator

        # EXISTS, not a join + DISTINCT: DISTINCT over every selected column (and COUNT over
        # that) cost more than the rest of "my sessions this week" on a large database.
        leads = GroupFacilitator.objects.filter(group_id=OuterRef("group_id"), user=user)
        return self.filter(Exists(leads) | Q(substitute_facilitator=user))

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
