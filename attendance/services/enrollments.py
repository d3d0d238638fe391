"""Enrollment: refer, waitlist, admit, offer a seat, walk in, withdraw, complete."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, lock_for_change
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, Role, require_role, role_of
from sessions.models import Session, SupportGroup

from ..models import Consent, Enrollment
from .consents import has_consent

Status = Enrollment.Status
Mode = SupportGroup.MembershipMode


# --- Enrollment ------------------------------------------------------------------------------


def _lock_group(group: SupportGroup) -> SupportGroup:
    # Admissions to one group are serialised so two of them cannot both take the last seat.
    return SupportGroup.objects.select_for_update().get(pk=group.pk)


def seats_taken(group: SupportGroup, *, exclude=None) -> int:
    """Active members plus outstanding offers of a seat."""
    now = timezone.now()
    active = group.enrollments.filter(status=Status.ACTIVE)
    offered = group.enrollments.filter(status=Status.WAITLISTED, offer_expires_at__gt=now)
    if exclude is not None:
        active = active.exclude(pk=exclude.pk)
        offered = offered.exclude(pk=exclude.pk)
    return active.count() + offered.count()


def _check_seat_free(group: SupportGroup, enrollment: Enrollment) -> None:
    """Refuse when every seat is taken by others (a seat offered to `enrollment` is its own)."""
    if seats_taken(group, exclude=enrollment) >= group.capacity:
        raise ValidationError(
            _("The group is full (%(capacity)s seats).") % {"capacity": group.capacity}
        )


def next_session_number(group: SupportGroup, on: datetime.date) -> int | None:
    """The number of the group's first non-cancelled session on or after `on`."""
    tz = group.institution.tzinfo
    start = datetime.datetime.combine(on, datetime.time.min, tzinfo=tz)
    session = (
        group.sessions.exclude(status=Session.Status.CANCELLED)
        .filter(starts_at__gte=start)
        .order_by("starts_at")
        .first()
    )
    return session.sequence if session else None


def _day_start(group: SupportGroup, day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=group.institution.tzinfo)


def _sessions_taken_place(group: SupportGroup):
    """The group's sessions whose roster is history: attendance was taken or they were not held."""
    return group.sessions.filter(status__in=[Session.Status.HELD, Session.Status.NOT_HELD])


def _check_join_date(group: SupportGroup, on: datetime.date) -> None:
    """Joining changes future rosters only: a session that took place before today keeps its
    roster (today's may still gain someone admitted at the door)."""
    today = group.institution.local_now().date()
    if on >= today:
        return
    past = (
        _sessions_taken_place(group)
        .filter(starts_at__gte=_day_start(group, on), starts_at__lt=_day_start(group, today))
        .order_by("starts_at")
        .first()
    )
    if past:
        raise ValidationError(
            {
                "on": _(
                    "Session %(n)s on %(date)s has already taken place; joining cannot change "
                    "its roster."
                )
                % {"n": past.sequence, "date": past.local_date().isoformat()}
            }
        )


def _leave_date(enrollment: Enrollment, on: datetime.date | None) -> datetime.date:
    """The first day a leaving member is off the roster: `on` (today by default), never a day
    whose session already took place with them on its roster."""
    group = enrollment.group
    last = (
        _sessions_taken_place(group)
        .filter(starts_at__gte=_day_start(group, enrollment.joined_on))
        .order_by("-starts_at")
        .first()
    )
    earliest = last.local_date() + datetime.timedelta(days=1) if last else None
    if on is None:
        # Today, or the joining day of someone admitted for later (they then sit no session).
        return max(
            d for d in (group.institution.local_now().date(), enrollment.joined_on, earliest) if d
        )
    if on < enrollment.joined_on:
        raise ValidationError({"on": _("A member cannot leave before joining.")})
    if earliest and on < earliest:
        raise ValidationError(
            {
                "on": _(
                    "Session %(n)s on %(date)s has already taken place with this member on its "
                    "roster; they can leave from %(next)s on."
                )
                % {
                    "n": last.sequence,
                    "date": last.local_date().isoformat(),
                    "next": earliest.isoformat(),
                }
            }
        )
    return on


def _check_admission(
    group: SupportGroup, enrollment: Enrollment, *, by, on: datetime.date, override: bool
) -> None:
    """What closed, open and semi-open groups admit and when."""
    if group.status == SupportGroup.Status.ENDED or (group.ends_on and on > group.ends_on):
        raise ValidationError(_("The group has ended."))
    if override and role_of(by, group.institution_id) != Role.ADMIN:
        raise ValidationError(
            {"override": _("Only an institution admin can override the admission rules.")}
        )
    if group.membership_mode == Mode.CLOSED and on > group.starts_on and not override:
        raise ValidationError(
            _(
                "This closed group started on %(date)s and admits no one after its start without an admin's override."
            )
            % {"date": group.starts_on.isoformat()}
        )
    if group.membership_mode == Mode.SEMI_OPEN and not override:
        number = next_session_number(group, on)
        if on > group.starts_on and number not in group.entry_points:
            raise ValidationError(
                _(
                    "This semi-open group admits newcomers only at sessions %(points)s; the next session is number %(n)s."
                )
                % {
                    "points": ", ".join(map(str, group.entry_points)),
                    "n": number if number else "-",
                }
            )
    if not has_consent(enrollment.participant, Consent.Purpose.PARTICIPATION, group=group):
        raise ValidationError(
            _("The participant has not consented to take part in the group and its ground rules.")
        )
    _check_seat_free(group, enrollment)


def _check_enroll_allowed(participant: Participant, group: SupportGroup, by) -> SupportGroup:
    """Who may start a membership, for whom: one open enrollment per participant and group.

    Returns the group locked, so that two requests for one person cannot both pass the check.
    """
    require_role(by, group.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    if participant.institution_id != group.institution_id:
        raise ValidationError({"participant": _("Unknown participant.")})
    if participant.is_erased:
        raise ValidationError({"participant": _("This participant's data has been erased.")})
    group = _lock_group(group)
    if Enrollment.objects.open().filter(participant=participant, group=group).exists():
        raise ValidationError(
            {
                "participant": _(
                    "The participant is already referred to, waiting for or in this group."
                )
            }
        )
    return group


@transaction.atomic
def enrollment_refer(
    *,
    participant: Participant,
    group: SupportGroup,
    by,
    referral_source: str = Enrollment.ReferralSource.SELF,
    reason: str = "",
) -> Enrollment:
    """Refer a participant to a group (the first step of membership)."""
    _check_enroll_allowed(participant, group, by)
    if referral_source not in Enrollment.ReferralSource.values:
        raise ValidationError({"referral_source": _("Unknown referral source.")})
    enrollment = Enrollment.objects.create(
        institution_id=group.institution_id,
        participant=participant,
        group=group,
        referral_source=referral_source,
        end_reason="",
        created_by=by,
    )
    audit_record(actor=by, action="enrollment.referred", obj=enrollment, details={"reason": reason})
    return enrollment


@transaction.atomic
def enrollment_waitlist(
    *, enrollment: Enrollment, by, precondition: Precondition = None
) -> Enrollment:
    """Put a referred participant on the group's waiting list (first come, first served)."""
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    enrollment = lock_for_change(enrollment, precondition)
    if enrollment.status != Status.REFERRED:
        raise ValidationError(_("Only a referred participant can be put on the waiting list."))
    enrollment.status = Status.WAITLISTED
    enrollment.waitlisted_at = timezone.now()
    enrollment.save()
    audit_record(actor=by, action="enrollment.waitlisted", obj=enrollment)
    return enrollment


@transaction.atomic
def enrollment_admit(
    *,
    enrollment: Enrollment,
    by,
    on: datetime.date | None = None,
    override: bool = False,
    precondition: Precondition = None,
) -> Enrollment:
    """Make a referred or waitlisted participant an active member from `on` (today).

    Respects capacity, the waiting list's order (unless the seat was offered to this person),
    the group's membership mode and the participation consent.
    """
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    group = _lock_group(enrollment.group)
    enrollment = lock_for_change(enrollment, precondition)
    on = on or group.institution.local_now().date()
    if enrollment.status not in (Status.REFERRED, Status.WAITLISTED):
        raise ValidationError(_("Only a referred or waitlisted participant can be admitted."))
    if enrollment.participant.is_erased:
        raise ValidationError({"participant": _("This participant's data has been erased.")})
    _check_admission(group, enrollment, by=by, on=on, override=override)
    _check_join_date(group, on)
    now = timezone.now()
    has_live_offer = enrollment.offer_expires_at is not None and enrollment.offer_expires_at > now
    if not override and not has_live_offer:
        ahead = group.enrollments.waitlist().exclude(pk=enrollment.pk)
        if enrollment.status == Status.WAITLISTED:
            ahead = ahead.filter(waitlisted_at__lt=enrollment.waitlisted_at)
        if ahead.exists():
            raise ValidationError(
                _("Others are ahead on the waiting list; admit them first or offer them the seat.")
            )
    enrollment.status = Status.ACTIVE
    enrollment.joined_on = on
    enrollment.offered_at = None
    enrollment.offer_expires_at = None
    enrollment.admitted_with_override = override
    enrollment.save()
    audit_record(
        actor=by,
        action="enrollment.admitted",
        obj=enrollment,
        details={"override": override, "on": on.isoformat()},
    )
    return enrollment


@transaction.atomic
def enrollment_offer_seat(*, enrollment: Enrollment, by, hours: int = 72) -> Enrollment:
    """Offer a freed seat to a waitlisted participant, holding it for `hours`."""
    if by is not None:
        require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    group = _lock_group(enrollment.group)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if enrollment.status != Status.WAITLISTED:
        raise ValidationError(_("Only a waitlisted participant can be offered a seat."))
    _check_seat_free(group, enrollment)
    now = timezone.now()
    enrollment.offered_at = now
    enrollment.offer_expires_at = now + datetime.timedelta(hours=hours)
    enrollment.save()
    audit_record(
        actor=by, action="enrollment.seat_offered", obj=enrollment, details={"hours": hours}
    )
    return enrollment


@transaction.atomic
def enrollment_offer_lapse(*, enrollment: Enrollment, by, now=None) -> Enrollment:
    """Release a seat whose offer expired untaken, so it can go to the next on the list.

    `offered_at` stays: it records that this person had their turn.
    """
    if by is not None:
        require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    now = now or timezone.now()
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    expires = enrollment.offer_expires_at
    if enrollment.status != Status.WAITLISTED or expires is None or expires > now:
        raise ValidationError(_("This enrollment has no expired offer of a seat."))
    enrollment.offer_expires_at = None
    enrollment.save()
    audit_record(
        actor=by,
        action="enrollment.offer_lapsed",
        obj=enrollment,
        details={"expired_at": expires.isoformat()},
    )
    return enrollment


@transaction.atomic
def enrollment_walk_in(
    *, participant: Participant, group: SupportGroup, by, session: Session | None = None
) -> Enrollment:
    """Admit a walk-in to an open group, a member from the day of `session` (or today)."""
    group = _check_enroll_allowed(participant, group, by)
    if group.membership_mode != Mode.OPEN:
        raise ValidationError(_("Only open groups accept walk-ins."))
    if session is not None and session.group_id != group.pk:
        raise ValidationError({"session": _("This session belongs to another group.")})
    on = session.local_date() if session else group.institution.local_now().date()
    enrollment = Enrollment(
        institution_id=group.institution_id,
        participant=participant,
        group=group,
        status=Status.REFERRED,
        is_walk_in=True,
        created_by=by,
    )
    _check_admission(group, enrollment, by=by, on=on, override=False)
    enrollment.status = Status.ACTIVE
    enrollment.joined_on = on
    enrollment.save()
    audit_record(
        actor=by, action="enrollment.walk_in", obj=enrollment, details={"on": on.isoformat()}
    )
    return enrollment


def _end(
    enrollment: Enrollment,
    *,
    by,
    status: str,
    reason: str,
    on: datetime.date | None,
    action: str,
    precondition: Precondition = None,
) -> Enrollment:
    """End a membership (withdrawn or completed) from `on`; see `_leave_date` for the roster."""
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    enrollment = lock_for_change(enrollment, precondition)
    if enrollment.status not in Enrollment.OPEN_STATUSES:
        raise ValidationError(_("This enrollment has already ended."))
    if status == Status.COMPLETED and enrollment.status != Status.ACTIVE:
        raise ValidationError(_("Only an active member can complete the group."))
    # Someone who never joined (referred, waitlisted) leaves no roster behind.
    enrollment.left_on = _leave_date(enrollment, on) if enrollment.joined_on else None
    enrollment.status = status
    enrollment.end_reason = (reason or "").strip()
    enrollment.offer_expires_at = None
    enrollment.save()
    audit_record(actor=by, action=action, obj=enrollment, details={"reason": enrollment.end_reason})
    return enrollment


@transaction.atomic
def enrollment_withdraw(
    *,
    enrollment: Enrollment,
    by,
    reason: str,
    on: datetime.date | None = None,
    precondition: Precondition = None,
) -> Enrollment:
    """End a membership (or referral) early; rosters of sessions from `on` no longer list them."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reason for the withdrawal.")})
    return _end(
        enrollment,
        by=by,
        status=Status.WITHDRAWN,
        reason=reason,
        on=on,
        action="enrollment.withdrawn",
        precondition=precondition,
    )


@transaction.atomic
def enrollment_complete(
    *,
    enrollment: Enrollment,
    by,
    on: datetime.date | None = None,
    reason: str = "",
    precondition: Precondition = None,
) -> Enrollment:
    """Record that a member completed the group."""
    return _end(
        enrollment,
        by=by,
        status=Status.COMPLETED,
        reason=reason,
        on=on,
        action="enrollment.completed",
        precondition=precondition,
    )
