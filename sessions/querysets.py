from clinics.querysets import TenantQuerySet


class SupportGroupQuerySet(TenantQuerySet):
    def facilitated_by(self, user):
        """Groups `user` facilitates in any role (sessions.policies.groups_facilitated_q)."""
        from .policies import groups_facilitated_q

        return self.filter(groups_facilitated_q(user))


class SessionQuerySet(TenantQuerySet):
    def facilitated_by(self, user):
        """Sessions `user` leads: as one of the group's facilitators or as the substitute."""
        from .policies import sessions_led_q

        # EXISTS, not a join + DISTINCT: DISTINCT over every selected column (and COUNT over
        # that) cost more than the rest of "my sessions this week" on a large database.
        return self.filter(sessions_led_q(user))

    def overlapping(self, starts_at, ends_at):
        return self.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)

    def not_cancelled(self):
        return self.exclude(status="cancelled")


class SessionNoteQuerySet(TenantQuerySet):
    institution_path = "session__institution"

    def readable_by(self, user):
        """The notes `user` may read (sessions.policies.notes_readable_by): by role in the
        group, an observer none; a private note only by its author."""
        from clinics.roles import CLINICAL_ROLES

        from .policies import notes_readable_by

        if not user.is_authenticated:
            return self.none()
        # The same roles that may write notes: an auditor never reads one, whatever group they
        # were attached to.
        return self.for_user(user, roles=CLINICAL_ROLES).filter(notes_readable_by(user))

    def awaiting_cosignature_by(self, user):
        """Trainees' signed notes waiting for `user`'s co-signature."""
        from clinics.roles import PLANNING_ROLES

        from .policies import notes_awaiting_cosignature_q

        if not user.is_authenticated:
            return self.none()
        return self.for_user(user, roles=PLANNING_ROLES).filter(notes_awaiting_cosignature_q(user))
