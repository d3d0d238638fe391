"""The waiting list: offer free seats, let offers lapse."""

import functools

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from attendance.models import Enrollment
from attendance.services import (
    enrollment_offer_lapse,
    enrollment_offer_seat,
    seats_taken,
)
from clinics.models import StaffMembership
from sessions.models import SupportGroup

from ..models import OutboxMessage
from .members import _contactable, _enqueue_to_member
from .outbox import _dispatch, _stamp
from .staff import _enqueue_to_user, _staff_users

Kind = OutboxMessage.Kind
Status = OutboxMessage.Status


SEAT_OFFER_HOURS = getattr(settings, "WAITLIST_OFFER_HOURS", 72)


# --- The waiting list ------------------------------------------------------------------------


def _seat_offer_member_text(enrollment: Enrollment):
    facts = {
        "institution": enrollment.group.institution.name,
        "date": formats.date_format(
            timezone.localtime(enrollment.offer_expires_at, enrollment.group.institution.tzinfo),
            "DATETIME_FORMAT",
        ),
    }
    subject = _("A place is available for you at %(institution)s") % facts
    body = _(
        "A place you have been waiting for at %(institution)s is now available. We keep it for "
        "you until %(date)s: please contact us to confirm."
    )
    return subject, body % facts


def _seat_offer_staff_text(enrollment: Enrollment):
    facts = {
        "code": enrollment.participant.code,
        "group": enrollment.group.name,
        "date": formats.date_format(
            timezone.localtime(enrollment.offer_expires_at, enrollment.group.institution.tzinfo),
            "DATETIME_FORMAT",
        ),
    }
    subject = _("A seat in “%(group)s” was offered to %(code)s") % facts
    body = _(
        "A seat in the group “%(group)s” was offered to %(code)s, the first on the waiting list, "
        "until %(date)s. Admit them when they confirm; if they do not, the seat goes to the next."
    )
    return subject, body % facts


def _offer_notices(enrollment: Enrollment) -> list[int]:
    created = []
    # One message per offer: a second offer after a lapse is a new one (even within a second).
    stamp = f"{_stamp(enrollment.offered_at)}.{enrollment.offers_lapsed}"
    group = enrollment.group
    participant = enrollment.participant
    for member in _contactable([participant]):
        message = _enqueue_to_member(
            key=f"{Kind.SEAT_OFFERED}:enrollment-{enrollment.pk}@{stamp}:participant-{member.pk}",
            kind=Kind.SEAT_OFFERED,
            participant=member,
            session=None,
            texts=functools.partial(_seat_offer_member_text, enrollment),
            enrollment=enrollment,
        )
        if message is not None:
            created.append(message.pk)
    staff = {u.pk: u for u in _staff_users(group.institution_id, StaffMembership.Role.values)}
    for role in group.facilitator_roles.all():
        if role.user_id not in staff:
            continue
        message = _enqueue_to_user(
            key=f"{Kind.SEAT_OFFERED_STAFF}:enrollment-{enrollment.pk}@{stamp}:user-{role.user_id}",
            kind=Kind.SEAT_OFFERED_STAFF,
            user=staff[role.user_id],
            institution=group.institution,
            texts=functools.partial(_seat_offer_staff_text, enrollment),
            enrollment=enrollment,
        )
        if message is not None:
            created.append(message.pk)
    return created


def _offer_free_seats(group: SupportGroup) -> list[int]:
    # Serialise per group: two runs at once cannot offer the same seat twice.
    group = SupportGroup.objects.select_for_update().select_related("institution").get(pk=group.pk)
    created = []
    while seats_taken(group) < group.capacity:
        # The head of the list without a live offer (a first lapse keeps the place).
        nxt = group.enrollments.waitlist().filter(offer_expires_at__isnull=True).first()
        if nxt is None:
            break
        try:
            # The same admission rule as the admit form: no offer that cannot be taken up.
            enrollment = enrollment_offer_seat(enrollment=nxt, by=None, hours=SEAT_OFFER_HOURS)
        except ValidationError:
            break
        enrollment.group = group
        created += _offer_notices(enrollment)
    return created


@transaction.atomic
def waitlist_offers_run(*, now=None) -> list[int]:
    """Release offers of a seat that expired, then offer each free seat to the first on the
    group's waiting list who has not had an offer yet; the member and the facilitators hear."""
    now = now or timezone.now()
    for enrollment in Enrollment.objects.filter(
        status=Enrollment.Status.WAITLISTED, offer_expires_at__lte=now
    ):
        try:
            with transaction.atomic():
                enrollment_offer_lapse(enrollment=enrollment, by=None, now=now)
        except ValidationError:
            continue  # admitted or released meanwhile (another run, a member of staff)
    today = timezone.localdate(now)
    groups = (
        SupportGroup.objects.filter(
            status__in=[SupportGroup.Status.PLANNED, SupportGroup.Status.ACTIVE],
            enrollments__status=Enrollment.Status.WAITLISTED,
            enrollments__offer_expires_at__isnull=True,
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .distinct()
        .order_by("pk")
    )
    created = []
    for group in groups:
        created += _offer_free_seats(group)
    _dispatch(created)
    return created


def _waitlist_left_text(enrollment: Enrollment, why: str):
    facts = {"institution": enrollment.group.institution.name}
    subject = _("About your place on the waiting list at %(institution)s") % facts
    if why == "offers_lapsed":
        body = _(
            "We offered you a place at %(institution)s twice and did not hear from you, so "
            "your place on the waiting list has ended. Contact us if you would still like to "
            "join: we will gladly put you on the list again."
        )
    elif why == "group_ended":
        body = _(
            "The meetings you were waiting for at %(institution)s have ended, so your place on "
            "the waiting list has ended too. Contact us and we will help you find another group."
        )
    else:
        body = _(
            "Your place on the waiting list at %(institution)s has ended. Contact us if you "
            "have any questions."
        )
    return subject, body % facts


@transaction.atomic
def waitlist_left_notice_enqueue(*, enrollment: Enrollment, why: str) -> list[int]:
    """Tell a person their waiting place ended (without naming the group: that alone can
    reveal a diagnosis); once per enrollment."""
    enrollment = Enrollment.objects.select_related(
        "group__institution", "participant__institution"
    ).get(pk=enrollment.pk)
    created = []
    for member in _contactable([enrollment.participant]):
        message = _enqueue_to_member(
            key=f"{Kind.WAITLIST_LEFT}:enrollment-{enrollment.pk}:participant-{member.pk}",
            kind=Kind.WAITLIST_LEFT,
            participant=member,
            session=None,
            texts=functools.partial(_waitlist_left_text, enrollment, why),
            enrollment=enrollment,
        )
        if message is not None:
            created.append(message.pk)
    _dispatch(created)
    return created
