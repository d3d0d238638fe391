"""What the business does with membership, consent and attendance."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Q, Subquery, Value, When, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_event, audit_record, audit_record_many
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, Role, require_role, role_of
from clinics.services import participant_clear_identity
from sessions.models import GroupFacilitator, Session, SupportGroup

from .models import AttendanceRecord, AttendanceRevision, Consent, Enrollment, FollowUpTask

Status = Enrollment.Status
Mode = SupportGroup.MembershipMode


# --- Consent ---------------------------------------------------------------------------------


def has_consent(
    participant: Participant, purpose: str, *, group=None, recipient: str | None = None, when=None
) -> bool:
    """Whether the participant's consent for `purpose` is in force (for that group / recipient)."""
    consents = Consent.objects.active(when).filter(participant=participant, purpose=purpose)
    if purpose == Consent.Purpose.PARTICIPATION and group is not None:
        consents = consents.filter(group__isnull=True) | consents.filter(group=group)
    if recipient is not None:
        consents = consents.filter(recipient__iexact=recipient.strip())
    return consents.exists()


@transaction.atomic
def consent_grant(
    *,
    participant: Participant,
    purpose: str,
    method: str,
    text_version: str,
    by,
    group=None,
    recipient: str = "",
    granted_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
    scan=None,
) -> Consent:
    """Record a participant's consent for one purpose: how it was given and the text's version."""
    require_role(by, participant.institution_id, CLINICAL_ROLES, _("record consents"))
    if participant.is_erased:
        raise ValidationError(_("This participant's data has been erased."))
    granted_at = granted_at or timezone.now()
    errors = {}
    if purpose not in Consent.Purpose.values:
        errors["purpose"] = _("Unknown purpose.")
    if method not in Consent.Method.values:
        errors["method"] = _("Say how the consent was given: signed form, verbal or electronic.")
    if not (text_version or "").strip():
        errors["text_version"] = _("Give the version of the consent text that was agreed to.")
    if purpose == Consent.Purpose.DISCLOSURE and not (recipient or "").strip():
        errors["recipient"] = _("Name the third party the attendance may be disclosed to.")
    if purpose != Consent.Purpose.DISCLOSURE and recipient:
        errors["recipient"] = _("Only a disclosure consent names a recipient.")
    if group is not None and purpose != Consent.Purpose.PARTICIPATION:
        errors["group"] = _("Only a participation consent names a group.")
    if group is not None and group.institution_id != participant.institution_id:
        errors["group"] = _("Unknown group.")
    if expires_at is not None and expires_at <= granted_at:
        errors["expires_at"] = _("A consent must expire after it was granted.")
    if granted_at > timezone.now() + datetime.timedelta(minutes=5):
        errors["granted_at"] = _("A consent cannot be granted in the future.")
    if errors:
        raise ValidationError(errors)
    # One grant in force per scope: a participation consent per group (or general), a
    # disclosure consent per recipient. A new grant after withdrawal or expiry is a new row.
    in_force = Consent.objects.active().filter(participant=participant, purpose=purpose)
    if purpose == Consent.Purpose.PARTICIPATION:
        in_force = in_force.filter(group=group)
    if purpose == Consent.Purpose.DISCLOSURE:
        in_force = in_force.filter(recipient__iexact=recipient.strip())
    if in_force.exists():
        raise ValidationError({"purpose": _("This consent is already granted and in force.")})
    consent = Consent(
        institution_id=participant.institution_id,
        participant=participant,
        purpose=purpose,
        method=method,
        text_version=text_version.strip(),
        group=group,
        recipient=(recipient or "").strip(),
        granted_at=granted_at,
        expires_at=expires_at,
        recorded_by=by,
    )
    if scan:
        consent.scan = scan
    consent.full_clean(exclude=["institution"])
    consent.save()
    audit_record(
        actor=by,
        action="consent.granted",
        obj=consent,
        details={"purpose": purpose, "participant": participant.code},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, consent: Consent, by, reason: str = "") -> Consent:
    """Withdraw a consent: effective at once, recorded with who, when and why, history kept.

    Without a health-data consent left, the person's identity beyond their alias (name,
    contacts, year of birth) is cleared at once; their history (attendance, consents,
    memberships) stays, under their code and alias.
    """
    require_role(by, consent.institution_id, CLINICAL_ROLES, _("record consents"))
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise ValidationError(_("This consent was already withdrawn."))
    if consent.status == Consent.Status.EXPIRED or not consent.is_active_at():
        raise ValidationError(_("This consent is no longer in force."))
    consent.status = Consent.Status.WITHDRAWN
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_by = by
    consent.withdrawal_reason = (reason or "").strip()
    consent.save()
    if consent.purpose == Consent.Purpose.CONTACT:
        participant = consent.participant
        if not has_consent(participant, Consent.Purpose.CONTACT):
            # No more reminders from now on; `updated_at` moves so the mobile app syncs it.
            Participant.objects.filter(pk=participant.pk).update(
                reminder_channel=Participant.Channel.NONE, updated_at=timezone.now()
            )
    audit_record(
        actor=by,
        action="consent.withdrawn",
        obj=consent,
        details={"purpose": consent.purpose, "participant": consent.participant.code},
    )
    if consent.purpose == Consent.Purpose.HEALTH_DATA and not has_consent(
        consent.participant, Consent.Purpose.HEALTH_DATA
    ):
        participant_clear_identity(
            participant=consent.participant, by=by, why="health_data consent withdrawn"
        )
    return consent


@transaction.atomic
def consents_expire(*, now=None) -> int:
    """Mark consents whose expiry has passed as expired (a periodic job); returns how many."""
    now = now or timezone.now()
    expired = list(
        Consent.objects.filter(
            status=Consent.Status.GRANTED, expires_at__lte=now
        ).select_for_update()
    )
    for consent in expired:
        consent.status = Consent.Status.EXPIRED
        consent.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=None, action="consent.expired", obj=consent, details={"purpose": consent.purpose}
        )
    return len(expired)


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
def enrollment_waitlist(*, enrollment: Enrollment, by) -> Enrollment:
    """Put a referred participant on the group's waiting list (first come, first served)."""
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if enrollment.status != Status.REFERRED:
        raise ValidationError(_("Only a referred participant can be put on the waiting list."))
    enrollment.status = Status.WAITLISTED
    enrollment.waitlisted_at = timezone.now()
    enrollment.save()
    audit_record(actor=by, action="enrollment.waitlisted", obj=enrollment)
    return enrollment


@transaction.atomic
def enrollment_admit(
    *, enrollment: Enrollment, by, on: datetime.date | None = None, override: bool = False
) -> Enrollment:
    """Make a referred or waitlisted participant an active member from `on` (today).

    Respects capacity, the waiting list's order (unless the seat was offered to this person),
    the group's membership mode and the participation consent.
    """
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    group = _lock_group(enrollment.group)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
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
    enrollment: Enrollment, *, by, status: str, reason: str, on: datetime.date | None, action: str
) -> Enrollment:
    """End a membership (withdrawn or completed) from `on`; see `_leave_date` for the roster."""
    require_role(by, enrollment.institution_id, CLINICAL_ROLES, _("manage enrollments"))
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
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
    *, enrollment: Enrollment, by, reason: str, on: datetime.date | None = None
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
    )


@transaction.atomic
def enrollment_complete(
    *, enrollment: Enrollment, by, on: datetime.date | None = None, reason: str = ""
) -> Enrollment:
    """Record that a member completed the group."""
    return _end(
        enrollment,
        by=by,
        status=Status.COMPLETED,
        reason=reason,
        on=on,
        action="enrollment.completed",
    )


# --- Attendance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One person's mark in a roster."""

    participant_id: int
    status: str
    arrived_at: datetime.time | None = None
    left_at: datetime.time | None = None


def session_roster(session: Session) -> list[Enrollment]:
    """Who is on a session's roster: members on that day (including walk-ins)."""
    return list(
        Enrollment.objects.filter(group_id=session.group_id)
        .members_on(session.local_date())
        .select_related("participant")
        .order_by("participant__number")
    )


@dataclass(frozen=True)
class RosterLine:
    """One line of a session's roster: a member that day with their mark (if any), or someone
    marked earlier who is no longer a member that day (`on_roster` false)."""

    enrollment: Enrollment
    participant: Participant
    record: AttendanceRecord | None
    on_roster: bool


def roster_lines(
    session: Session,
    *,
    roster: list[Enrollment] | None = None,
    records: Iterable[AttendanceRecord] | None = None,
) -> list[RosterLine]:
    """The session's roster with each member's mark, then anyone marked earlier who is no
    longer a member that day, by participant number.

    `roster` (as `session_roster` gives it) and `records` (all the session's marks) are read
    here unless the caller already holds them, as `attendance_record_roster` does.
    """
    if records is None:
        records = session.attendance_records.select_related("participant", "enrollment")
        # By pk: the default ordering would join the session and the institution for nothing.
        records = records.order_by("pk")
    if roster is None:
        roster = session_roster(session)
    marks = {record.participant_id: record for record in records}
    lines = [
        RosterLine(
            enrollment, enrollment.participant, marks.pop(enrollment.participant_id, None), True
        )
        for enrollment in roster
    ]
    no_longer_members = list(marks.values())
    # Records read without their participant and enrollment (the write's lock) get them here,
    # in one query each, and only when someone has left the roster; joined ones cost nothing.
    prefetch_related_objects(no_longer_members, "participant", "enrollment")
    no_longer_members.sort(key=lambda record: (record.participant.number, record.pk))
    lines += [RosterLine(r.enrollment, r.participant, r, False) for r in no_longer_members]
    return lines


def _check_session_open_for_attendance(session: Session, now) -> None:
    """Attendance is taken from the moment a session begins, never for one that did not happen."""
    if session.status == Session.Status.CANCELLED:
        raise ValidationError(_("The session was cancelled; it has no attendance."))
    if session.status == Session.Status.NOT_HELD:
        raise ValidationError(_("The session was not held; it has no attendance."))
    if not session.has_begun(now):
        raise ValidationError(_("Attendance can be taken from the moment the session begins."))


def _mark_errors(mark: Mark, session: Session) -> str | None:
    """What is wrong with one person's mark, if anything (the roster is checked separately)."""
    if mark.status not in AttendanceRecord.Status.values:
        return _("Unknown attendance status “%(status)s”.") % {"status": mark.status}
    absent = mark.status in (AttendanceRecord.Status.EXCUSED, AttendanceRecord.Status.UNEXCUSED)
    if absent and (mark.arrived_at or mark.left_at):
        return _("An absence has no arrival or leaving time.")
    if mark.arrived_at and mark.left_at and mark.left_at <= mark.arrived_at:
        return _("The leaving time must be after the arrival time.")
    return None


# The fields a correction changes (updated_at too: an UPDATE does not apply auto_now).
_CORRECTED_FIELDS = [
    "status",
    "arrived_at",
    "left_at",
    "recorded_by",
    "recorded_at",
    "source",
    "version",
    "updated_at",
]


def _update_in_one_statement(records: list[AttendanceRecord]) -> None:
    """Write the corrected records' fields with one UPDATE, as bulk_update does, but set a
    column that has the same value in every row plainly instead of with a CASE of one WHEN per
    row: bulk_update's 8 columns × 15 rows of CASE cost half of a roster PUT's time in Python,
    and in a roster most columns (who, when, from where, usually the times) are the same."""
    if not records:
        return
    values = {}
    for name in _CORRECTED_FIELDS:
        field = AttendanceRecord._meta.get_field(name)
        column = {getattr(r, field.attname) for r in records}
        if len(column) == 1:
            values[field.attname] = column.pop()
        else:
            values[field.attname] = Case(
                *(When(pk=r.pk, then=Value(getattr(r, field.attname), field)) for r in records),
                output_field=field,
            )
    AttendanceRecord.objects.filter(pk__in=[r.pk for r in records]).update(**values)


@dataclass(frozen=True)
class _Taken:
    """What taking attendance read and wrote, for the callers' answers."""

    session: Session  # locked, with its status as it now stands
    roster: list[Enrollment]
    records: list[AttendanceRecord]  # every mark of the session as it now stands
    marked: list[AttendanceRecord]  # one per mark sent, in their order


@transaction.atomic
def attendance_record(
    *, session: Session, marks: list[Mark], by, source: str = AttendanceRecord.Source.WEB
) -> list[AttendanceRecord]:
    """Record or correct the attendance of one session, all marks or none.

    Taking attendance marks a scheduled session held. Only people on the roster that day can be
    marked. Corrections keep the earlier version. Two unexplained absences in a row raise a
    follow-up task for the group's facilitators.
    """
    return _take_attendance(session, marks, by, source).marked


@transaction.atomic
def attendance_record_roster(
    *, session: Session, marks: list[Mark], by, source: str = AttendanceRecord.Source.WEB
) -> tuple[Session, list[RosterLine]]:
    """Record the marks as `attendance_record` does, and answer with the session as it now
    stands and its roster lines, built from the rows the write read and wrote: reading them
    again would cost a query per table for nothing."""
    taken = _take_attendance(session, marks, by, source)
    return taken.session, roster_lines(taken.session, roster=taken.roster, records=taken.records)


def _take_attendance(session: Session, marks: list[Mark], by, source: str) -> _Taken:
    """The rules of `attendance_record`, writing in bulk: a constant handful of queries
    whatever the number of people."""
    require_role(by, session.institution_id, CLINICAL_ROLES, _("record attendance"))
    # Lock the session row only: FOR UPDATE on the join would also lock the institution's row
    # and so serialise every roster marked in the institution (and every registration).
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("group", "institution")
        .get(pk=session.pk)
    )
    now = timezone.now()
    _check_session_open_for_attendance(session, now)
    if source not in AttendanceRecord.Source.values:
        raise ValidationError({"source": _("Unknown source.")})
    roster_in_order = session_roster(session)
    roster = {e.participant_id: e for e in roster_in_order}
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for mark in marks:
        key = str(mark.participant_id)
        if mark.participant_id in seen:
            errors[key] = _("This person is marked twice.")
            continue
        seen.add(mark.participant_id)
        if mark.participant_id not in roster:
            errors[key] = _("This person is not on the roster of this session.")
            continue
        problem = _mark_errors(mark, session)
        if problem:
            errors[key] = problem
    if errors:
        raise ValidationError(errors)
    if session.status == Session.Status.SCHEDULED:
        session.status = Session.Status.HELD
        session.save(update_fields=["status", "updated_at"])
    # order_by("pk"): the default ordering joins participant and institution, and FOR UPDATE
    # would lock their rows too.
    records = session.attendance_records.order_by("pk").select_for_update()
    existing = {r.participant_id: r for r in records}
    new: list[AttendanceRecord] = []
    revisions: list[AttendanceRevision] = []
    corrected: list[AttendanceRecord] = []
    changes: list[tuple[AttendanceRecord, str, dict]] = []  # for the audit log, in marks' order
    marked: list[AttendanceRecord] = []
    for mark in marks:
        record = existing.get(mark.participant_id)
        if record is None:
            enrollment = roster[mark.participant_id]
            record = AttendanceRecord(
                institution_id=session.institution_id,
                session=session,
                participant=enrollment.participant,
                enrollment=enrollment,
                status=mark.status,
                arrived_at=mark.arrived_at,
                left_at=mark.left_at,
                recorded_by=by,
                recorded_at=now,
                source=source,
            )
            new.append(record)
            changes.append((record, "attendance.recorded", {"status": mark.status}))
        elif (record.status, record.arrived_at, record.left_at) != (
            mark.status,
            mark.arrived_at,
            mark.left_at,
        ):
            revisions.append(
                AttendanceRevision(
                    record=record,
                    version=record.version,
                    status=record.status,
                    arrived_at=record.arrived_at,
                    left_at=record.left_at,
                    recorded_by_id=record.recorded_by_id,
                    recorded_at=record.recorded_at,
                    source=record.source,
                )
            )
            changes.append(
                (record, "attendance.corrected", {"from": record.status, "to": mark.status})
            )
            record.status = mark.status
            record.arrived_at = mark.arrived_at
            record.left_at = mark.left_at
            record.recorded_by = by
            record.recorded_at = now
            record.source = source
            record.version += 1
            corrected.append(record)
        marked.append(record)
    # Both backends hand back the new primary keys, which the audit events below name.
    AttendanceRecord.objects.bulk_create(new)
    AttendanceRevision.objects.bulk_create(revisions)
    written_at = timezone.now()
    for record in corrected:
        record.updated_at = written_at  # what save() would do: the mobile app syncs by it
    _update_in_one_statement(corrected)
    raised = _raise_follow_ups(
        session, [r for r in marked if r.status == AttendanceRecord.Status.UNEXCUSED]
    )
    # One insert for the whole roster's events; the institution is given, not read per mark.
    events = [
        audit_event(
            actor=by, action=action, obj=record, institution=session.institution, details=details
        )
        for record, action, details in changes
    ]
    events += [
        audit_event(
            actor=None, action="follow_up.raised", obj=task, institution=session.institution
        )
        for task in raised
    ]
    audit_record_many(events)
    return _Taken(
        session=session,
        roster=roster_in_order,
        records=[*existing.values(), *new],
        marked=marked,
    )


def _lead_facilitator_id(group_id: int) -> int | None:
    """Who follow-ups go to: the group's lead facilitator, else a co-facilitator (the one who
    joined first in that role)."""
    preference = Case(
        *(When(role=role, then=rank) for rank, role in enumerate(GroupFacilitator.BOOKED_ROLES))
    )
    return (
        GroupFacilitator.objects.filter(group_id=group_id, role__in=GroupFacilitator.BOOKED_ROLES)
        .order_by(preference, "id")
        .values_list("user_id", flat=True)
        .first()
    )


def _raise_follow_ups(session: Session, absences: list[AttendanceRecord]) -> list[FollowUpTask]:
    """Two unexplained absences in a row (this session and the group's previous held one): ask
    the lead facilitator to reach out. One open task per member is enough: a third absence
    or the same marks recorded again raise no other.

    Returns the tasks raised; the caller writes their "follow_up.raised" audit events with the
    marks' own. At most four queries, whatever the number of absences.
    """
    if not absences:
        return []
    previous = (
        Session.objects.filter(
            group_id=session.group_id,
            status=Session.Status.HELD,
            starts_at__lt=session.starts_at,
        )
        .order_by("-starts_at", "-id")
        .values("pk")[:1]
    )
    absence_of = {r.participant_id: r for r in absences}
    # No previous held session: the subquery is NULL and matches no record.
    absent_before = (
        AttendanceRecord.objects.filter(
            session_id=Subquery(previous),
            status=AttendanceRecord.Status.UNEXCUSED,
            participant_id__in=absence_of,
        )
        .order_by()
        .values_list("participant_id", flat=True)
    )
    in_a_row = {absence_of[participant_id].enrollment_id for participant_id in absent_before}
    if not in_a_row:
        return []
    # Already followed up: an open task (from any session), or one this session raised before,
    # even if it has been done since.
    followed_up = set(
        FollowUpTask.objects.filter(enrollment_id__in=in_a_row)
        .filter(Q(status=FollowUpTask.Status.OPEN) | Q(trigger_session=session))
        .order_by()
        .values_list("enrollment_id", flat=True)
    )
    due = [r for r in absences if r.enrollment_id in in_a_row - followed_up]
    if not due:
        return []
    lead = _lead_facilitator_id(session.group_id)
    # The session's lock serialises this with any other marking of the session, so no other
    # task for (enrollment, this session) can appear before the insert.
    return FollowUpTask.objects.bulk_create(
        FollowUpTask(
            institution_id=session.institution_id,
            enrollment_id=record.enrollment_id,
            trigger_session=session,
            assigned_to_id=lead,
        )
        for record in due
    )


@transaction.atomic
def follow_up_resolve(*, task: FollowUpTask, by, outcome: str) -> FollowUpTask:
    """Close a follow-up task with what came of it."""
    require_role(by, task.institution_id, CLINICAL_ROLES, _("resolve follow-ups"))
    task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
    if task.status == FollowUpTask.Status.DONE:
        raise ValidationError(_("This follow-up is already done."))
    if not (outcome or "").strip():
        raise ValidationError({"outcome": _("Say what came of the follow-up.")})
    task.status = FollowUpTask.Status.DONE
    task.outcome = outcome.strip()
    task.resolved_at = timezone.now()
    task.resolved_by = by
    task.save()
    audit_record(actor=by, action="follow_up.resolved", obj=task)
    return task
