import datetime

from django.db.models import Q
from django.utils import timezone

from clinics.querysets import TenantQuerySet

# The waiting list's order (a fair one: first come, first served), for every reader of it.
WAITLIST_ORDER = ("waitlisted_at", "id")


class EnrollmentQuerySet(TenantQuerySet):
    def open(self):
        return self.filter(status__in=["referred", "waitlisted", "active"])

    def active(self):
        return self.filter(status="active")

    def waitlist(self):
        """The waiting list, first come first served."""
        return self.filter(status="waitlisted").order_by(*WAITLIST_ORDER)

    def members_on(self, day: datetime.date):
        """Who was a member on `day` (attendance.policies.member_on_q)."""
        from .policies import member_on_q

        return self.filter(member_on_q(day))


class ConsentQuerySet(TenantQuerySet):
    def active(self, when=None):
        when = when or timezone.now()
        return (
            self.filter(granted_at__lte=when)
            .filter(Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=when))
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=when))
        )


class AttendanceQuerySet(TenantQuerySet):
    pass


class FollowUpQuerySet(TenantQuerySet):
    pass
