"""Enrollment: refer, waitlist, admit, offer a seat, walk in, withdraw, complete."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, Role, require_role, role_of
from sessions.models import Session, SupportGroup

from ..models import Consent, Enrollment
from ..policies import admission_refusal, first_admission_day, next_session
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
    taken = group.enrollments.filter(
        Q(status=Status.ACTIVE) | Q(status=Status.WAITLISTED, offer_expires_at__gt=now)
    )
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    return taken.count()  # one count, not one per kind of seat (the group page's cost)


def _check_seat_free(group: SupportGroup, enrollment: Enrollment) -> None:
    """Refuse when every seat is taken by others (a seat offered to `enrollment` is its own)."""
    if seats_taken(group, exclude=enrollment) >= group.capacity:
        raise ValidationError(
            _("The group is full (%(capacity)s seats).") % {"capacity": group.capacity}
        )


def next_session_number(group: SupportGroup, on: datetime.date) -> int | None:
    """The number of the group's first non-cancelled session on or after `on`."""
    session = next_session(group, on)
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


def _last_session_sat(enrollment: Enrollment) -> tuple[Session | None, datetime.date | None]:
    """The last session that took place with them on its roster, and the day after it: a
    leaving member is off the roster from then on, never earlier (both None: none did)."""
    group = enrollment.group
    last = (
        _sessions_taken_place(group)
        .filter(starts_at__gte=_day_start(group, enrollment.joined_on))
        .order_by("-starts_at")
        .first()
    )
    return last, (last.local_date() + datetime.timedelta(days=1) if last else None)


def _leave_date(enrollment: Enrollment, on: datetime.date | None) -> datetime.date:
    """The first day a leaving member is off the roster: `on` (today by default), never a day
    whose session already took place with them on its roster."""
    group = enrollment.group
    last, earliest = _last_session_sat(enrollment)
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
    """What closed, open and semi-open groups admit and when (attendance.policies), then the
    participation consent and a free seat."""
    if override and role_of(by, group.institution_id) != Role.ADMIN:
        raise ValidationError(
            {"override": _("Only an institution admin can override the admission rules.")}
        )
    refusal = admission_refusal(group, on, override=override)
    if refusal:
        raise ValidationError(refusal)
    if not has_consent(enrollment.participant, Consent.Purpose.PARTICIPATION, group=group):
        raise ValidationError(
            _("The participant has not consented to take part in the group and its ground rules.")
        )
    _check_seat_free(group, enrollment)


def _check_waiting_list(
    group: SupportGroup, enrollment: Enrollment, *, override: bool, reason: str
) -> None:
    """The waiting list is fair: while others wait ahead, a free seat goes to its head by an
    offer. Anyone else comes in only by an admin's override with a reason."""
    has_live_offer = (
        enrollment.offer_expires_at is not None and enrollment.offer_expires_at > timezone.now()
    )
    if has_live_offer:
        return
    ahead = group.enrollments.waitlist()
    if enrollment.pk:
        ahead = ahead.exclude(pk=enrollment.pk)
    if enrollment.status == Status.WAITLISTED:
        ahead = ahead.filter(waitlisted_at__lt=enrollment.waitlisted_at)
    if not ahead.exists():
        return
    if not override:
        raise ValidationError(
            _(
                "Others are waiting for this group: the free seat is offered to the first on the "
                "waiting list. Put this person on the list, or ask an admin to admit them with "
                "an override and a reason."
            )
        )
    if not (reason or "").strip():
        raise ValidationError(
            {
                "reason": _(
                    "Others are waiting for this group: give the reason for admitting this person "
                    "ahead of them."
                )
            }
        )


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
    if group.status == SupportGroup.Status.ENDED:
        raise ValidationError(_("The group has ended; refer the person to another group."))
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
        referral_reason=(reason or "").strip(),
        created_by=by,
    )
    # Free text stays on its record; the audit event only names the field (erasure reaches it).
    audit_record(
        actor=by,
        action="enrollment.referred",
        obj=enrollment,
        details={"fields": ["referral_reason"]},
    )
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
    enrollment.save(update_fields=changed_fields("status", "waitlisted_at"))
    audit_record(actor=by, action="enrollment.waitlisted", obj=enrollment)
    return enrollment


@transaction.atomic
def enrollment_admit(
    *,
    enrollment: Enrollment,
    by,
    on: datetime.date | None = None,
    override: bool = False,
    reason: str = "",
    precondition=None,
) -> Enrollment:
    """Make a referred or waitlisted participant an active member from `on` (today, or in a
    semi-open group the day of its next entry session).

    Respects capacity, the waiting list (unless the seat was offered to this person, or an
    admin overrides with a reason), the group's membership mode and the participation consent.
    """
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    group = _lock_group(enrollment.group)
    enrollment = lock_for_change(enrollment, precondition)
    if on is None:
        today = group.institution.local_now().date()
        on = (None if override else first_admission_day(group, today)) or today
    if enrollment.status not in (Status.REFERRED, Status.WAITLISTED):
        raise ValidationError(_("Only a referred or waitlisted participant can be admitted."))
    if enrollment.participant.is_erased:
        raise ValidationError({"participant": _("This participant's data has been erased.")})
    _check_admission(group, enrollment, by=by, on=on, override=override)
    _check_join_date(group, on)
    _check_waiting_list(group, enrollment, override=override, reason=reason)
    enrollment.status = Status.ACTIVE
    enrollment.joined_on = on
    enrollment.offered_at = None
    enrollment.offer_expires_at = None
    enrollment.admitted_with_override = override
    enrollment.save(
        update_fields=changed_fields(
            "status", "joined_on", "offered_at", "offer_expires_at", "admitted_with_override"
        )
    )
    audit_record(
        actor=by,
        action="enrollment.admitted",
        obj=enrollment,
        details={"override": override, "on": on.isoformat(), "reason": (reason or "").strip()},
    )
    return enrollment


def offer_valid_until(group: SupportGroup, now: datetime.datetime, hours: int):
    """Until when a seat offered now is held, or None when no one could take it up: in a
    semi-open group until its next entry session begins (the same admission rule as the admit
    form), elsewhere for `hours` — never past the group's end."""
    today = group.institution.local_now().date()
    day = first_admission_day(group, today)
    if day is None:
        return None
    if group.membership_mode == Mode.SEMI_OPEN and day > group.starts_on:
        # Until the next entry session that has not begun yet (one under way today is too
        # late to offer a seat for).
        entry = (
            group.sessions.filter(
                status=Session.Status.SCHEDULED, is_entry_point=True, starts_at__gt=now
            )
            .order_by("starts_at", "id")
            .first()
        )
        if entry is None or admission_refusal(group, entry.local_date()):
            return None
        return entry.starts_at
    until = now + datetime.timedelta(hours=hours)
    if group.ends_on:
        end = _day_start(group, group.ends_on + datetime.timedelta(days=1))
        until = min(until, end)
    return until


@transaction.atomic
def enrollment_offer_seat(
    *, enrollment: Enrollment, by, hours: int = 72, precondition=None
) -> Enrollment:
    """Offer a free seat to a waitlisted participant: held for `hours`, or in a semi-open group
    until its next entry session begins. Refused when no one could be admitted then."""
    if by is not None:
        require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    group = _lock_group(enrollment.group)
    enrollment = lock_for_change(enrollment, precondition)
    if enrollment.status != Status.WAITLISTED:
        raise ValidationError(_("Only a waitlisted participant can be offered a seat."))
    if group.status not in (SupportGroup.Status.PLANNED, SupportGroup.Status.ACTIVE):
        raise ValidationError(
            _("The group is %(status)s: it makes no offers of a seat until it is active again.")
            % {"status": group.get_status_display().lower()}
        )
    _check_seat_free(group, enrollment)
    now = timezone.now()
    until = offer_valid_until(group, now, hours)
    if until is None or until <= now:
        refusal = admission_refusal(group, group.institution.local_now().date())
        raise ValidationError(
            refusal or _("No coming session admits newcomers; schedule an entry session first.")
        )
    enrollment.offered_at = now
    enrollment.offer_expires_at = until
    enrollment.save(update_fields=changed_fields("offered_at", "offer_expires_at"))
    audit_record(
        actor=by,
        action="enrollment.seat_offered",
        obj=enrollment,
        details={"until": until.isoformat()},
    )
    return enrollment


@transaction.atomic
def enrollment_offer_lapse(*, enrollment: Enrollment, by, now=None) -> Enrollment:
    """Release a seat whose offer expired untaken, so it can go on. A lapsed offer is never a
    dead end: the first time the person keeps their place on the list (and is offered again);
    the second time they leave the list, with a reason and a notice."""
    if by is not None:
        require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    now = now or timezone.now()
    enrollment = lock_for_change(enrollment)
    expires = enrollment.offer_expires_at
    if enrollment.status != Status.WAITLISTED or expires is None or expires > now:
        raise ValidationError(_("This enrollment has no expired offer of a seat."))
    enrollment.offer_expires_at = None
    enrollment.offered_at = None
    enrollment.offers_lapsed += 1
    fields = ["offer_expires_at", "offered_at", "offers_lapsed"]
    left = enrollment.offers_lapsed >= 2
    if left:
        enrollment.status = Status.WITHDRAWN
        enrollment.end_reason = str(
            _("Two offers of a seat lapsed without an answer; they left the waiting list.")
        )
        fields += ["status", "end_reason"]
    enrollment.save(update_fields=changed_fields(*fields))
    audit_record(
        actor=by,
        action="enrollment.offer_lapsed",
        obj=enrollment,
        details={"expired_at": expires.isoformat(), "left_the_list": left},
    )
    if left:
        from notifications.hooks import waitlist_left

        waitlist_left(enrollment, why="offers_lapsed")
    return enrollment


@transaction.atomic
def enrollment_walk_in(
    *,
    participant: Participant,
    group: SupportGroup,
    by,
    session: Session | None = None,
    override: bool = False,
    reason: str = "",
) -> Enrollment:
    """Admit a walk-in to an open group, a member from the day of `session` (or today). While
    others wait for the group, only an admin's override with a reason lets a walk-in in."""
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
    _check_admission(group, enrollment, by=by, on=on, override=override)
    _check_waiting_list(group, enrollment, override=override, reason=reason)
    enrollment.status = Status.ACTIVE
    enrollment.joined_on = on
    enrollment.admitted_with_override = override
    enrollment.save()
    audit_record(
        actor=by,
        action="enrollment.walk_in",
        obj=enrollment,
        details={"on": on.isoformat(), "override": override, "reason": (reason or "").strip()},
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
    enrollment.save(
        update_fields=changed_fields("left_on", "status", "end_reason", "offer_expires_at")
    )
    audit_record(actor=by, action=action, obj=enrollment, details={"fields": ["end_reason"]})
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


def _close(enrollment: Enrollment, *, by, reason: str, on: datetime.date | None, why: str) -> str:
    """End one open enrollment for a reason of the institution's (not the member's choice):
    an active member completes (group ended) or is withdrawn, a waiting one leaves the list
    with a notice. Runs inside the caller's transaction; `by` may be None (a job)."""
    enrollment = lock_for_change(enrollment)
    if enrollment.status not in Enrollment.OPEN_STATUSES:
        return ""
    was = enrollment.status
    if enrollment.joined_on:
        day = on or enrollment.group.institution.local_now().date()
        enrollment.left_on = _leave_date_at_least(enrollment, day)
    if was == Status.ACTIVE and why == "group_ended":
        enrollment.status = Status.COMPLETED
    else:
        enrollment.status = Status.WITHDRAWN
    enrollment.end_reason = reason
    enrollment.offer_expires_at = None
    enrollment.save(
        update_fields=changed_fields("status", "left_on", "end_reason", "offer_expires_at")
    )
    audit_record(
        actor=by,
        action="enrollment.completed"
        if enrollment.status == Status.COMPLETED
        else "enrollment.withdrawn",
        obj=enrollment,
        details={"fields": ["end_reason"], "why": why},  # the reason stays on the row
    )
    if was in (Status.WAITLISTED, Status.REFERRED):
        from notifications.hooks import waitlist_left

        waitlist_left(enrollment, why=why)
    return was


def _leave_date_at_least(enrollment: Enrollment, day: datetime.date) -> datetime.date:
    """The first day off the roster: `day`, but never before a session that already took
    place with them on its roster, nor before they joined."""
    _last, earliest = _last_session_sat(enrollment)
    return max(d for d in (day, enrollment.joined_on, earliest) if d)


def enrollments_close_for_group(*, group: SupportGroup, by, on: datetime.date, reason: str):
    """The group ends: its active members complete it on `on` (they sat its last day), its
    waiting list and referrals end with `reason` and a notice. Returns the counts."""
    counts = {"completed": 0, "waiting_list_ended": 0}
    for enrollment in group.enrollments.open().order_by("pk"):
        was = _close(
            enrollment,
            by=by,
            reason=reason,
            on=on + datetime.timedelta(days=1),
            why="group_ended",
        )
        counts["completed" if was == Status.ACTIVE else "waiting_list_ended"] += 1
    return counts


def enrollments_close_for_participant(*, participant: Participant, by, why: str, groups=None):
    """End every open membership and waiting place of a person at once (participation consent
    withdrawn, erasure): they leave future rosters from today. `groups` limits it (a
    group's own participation consent)."""
    reasons = {
        "consent_withdrawn": _("Consent to participation withdrawn."),
        "erased": _("The participant's data was erased."),
    }
    open_ = Enrollment.objects.open().filter(participant=participant)
    if groups is not None:
        open_ = open_.filter(group__in=groups)
    ended = 0
    for enrollment in open_.select_related("group__institution").order_by("pk"):
        if _close(enrollment, by=by, reason=str(reasons[why]), on=None, why=why):
            ended += 1
    return ended
