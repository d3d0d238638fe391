"""Retention: pseudonymise participants inactive past their institution's period."""

import logging

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent, Enrollment
from clinics.models import Institution, Participant
from clinics.services import participant_erase

logger = logging.getLogger(__name__)


# --- Retention -------------------------------------------------------------------------------


def retention_candidates(institution: Institution, *, now=None):
    """Participants of `institution` inactive for longer than its retention period.

    Inactive: registered, changed, attending, enrolled and consenting all before the cutoff,
    and not a current member or on a waiting list (an open enrollment is not inactivity).
    """
    now = now or timezone.now()
    cutoff = now - relativedelta(months=institution.retention_months)
    recent_attendance = AttendanceRecord.objects.filter(participant=OuterRef("pk")).filter(
        Q(updated_at__gte=cutoff) | Q(session__starts_at__gte=cutoff)
    )
    recent_enrollment = Enrollment.objects.filter(participant=OuterRef("pk")).filter(
        Q(updated_at__gte=cutoff) | Q(status__in=Enrollment.OPEN_STATUSES)
    )
    recent_consent = Consent.objects.filter(participant=OuterRef("pk"), updated_at__gte=cutoff)
    return (
        Participant.objects.filter(
            institution=institution,
            erased_at__isnull=True,
            created_at__lt=cutoff,
            updated_at__lt=cutoff,
        )
        .exclude(Exists(recent_attendance))
        .exclude(Exists(recent_enrollment))
        .exclude(Exists(recent_consent))
        .order_by("pk")
    )


def retention_erase_inactive(*, now=None) -> list[int]:
    """Pseudonymise every participant inactive past their institution's retention period
    (each in its own transaction, audited by `participant_erase`); returns their ids."""
    erased = []
    for institution in Institution.objects.all():
        for participant in retention_candidates(institution, now=now):
            try:
                # Also forgets the person's addresses in the outbox (notifications.erasure).
                participant_erase(participant=participant, by=None, reason="retention")
            except ValidationError:
                continue  # erased meanwhile (another run, an erasure request)
            erased.append(participant.pk)
    if erased:
        logger.info("Retention: pseudonymised %d inactive participants", len(erased))
    return erased
