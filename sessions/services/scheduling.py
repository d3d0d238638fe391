"""Sessions: schedule a series or one meeting, reschedule, cancel, mark not held."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.models import Room
from clinics.roles import PLANNING_ROLES, require_role

from ..models import (
    GroupFacilitator,
    RecurrenceRule,
    Session,
    SupportGroup,
)
from .groups import _can_lead_groups, _check_group_not_ended, _clash_label


def _booked_users(session: Session) -> set[int]:
    """Who a session books: the group's leads and co-facilitators, and the substitute."""
    users = set(
        GroupFacilitator.objects.filter(
            group_id=session.group_id, role__in=GroupFacilitator.BOOKED_ROLES
        ).values_list("user_id", flat=True)
    )
    if session.substitute_facilitator_id:
        users.add(session.substitute_facilitator_id)
    return users


def _check_conflicts(session: Session) -> None:
    """Refuse a room or a facilitator booked twice at once."""
    others = Session.objects.not_cancelled().overlapping(session.starts_at, session.ends_at)
    if session.pk:
        others = others.exclude(pk=session.pk)
    errors = {}
    if session.room_id:
        clash = others.filter(room_id=session.room_id).select_related("group").first()
        if clash:
            errors["room"] = _("The room is already booked at that time (%(session)s).") % {
                "session": clash
            }
    users = _booked_users(session)
    if users:
        clash = (
            others.filter(
                Q(
                    group__facilitator_roles__user_id__in=users,
                    group__facilitator_roles__role__in=GroupFacilitator.BOOKED_ROLES,
                )
                | Q(substitute_facilitator_id__in=users)
            )
            .select_related("group")
            .first()
        )
        if clash:
            errors["starts_at"] = _(
                "A facilitator of this session is already booked at that time (%(session)s)."
            ) % {"session": _clash_label(clash, session.institution_id)}
    if errors:
        raise ValidationError(errors)


def _check_session_fields(session: Session, group: SupportGroup) -> None:
    """A session ends after it starts and meets in a room of its institution or online."""
    errors = {}
    if session.ends_at <= session.starts_at:
        errors["ends_at"] = _("A session must end after it starts.")
    if session.room_id and session.room.site.institution_id != group.institution_id:
        errors["room"] = _("This room belongs to another institution.")
    if not session.room_id and not session.online_link:
        errors["room"] = _("Give a room, an online link or both.")
    if errors:
        raise ValidationError(errors)


def _place(group: SupportGroup, room, online_link: str) -> tuple:
    """Where a new session meets: what was given, else the group's default room, else its link."""
    if room is None and not online_link:
        room = group.default_room
    if room is None and not online_link:
        online_link = group.online_link
    return room, online_link or ""


def _lock_rooms(*rooms) -> None:
    # Serialise bookings of the same room so two concurrent requests cannot both pass the check.
    ids = sorted({r.pk if isinstance(r, Room) else r for r in rooms if r})
    if ids:
        list(Room.objects.select_for_update().filter(pk__in=ids))


@transaction.atomic
def session_schedule(
    *,
    group: SupportGroup,
    starts_at,
    ends_at,
    by,
    room=None,
    online_link: str = "",
    theme: str = "",
) -> Session:
    """Schedule one extra session of a group."""
    require_role(by, group.institution_id, PLANNING_ROLES, _("schedule sessions"))
    _check_group_not_ended(group)
    room, online_link = _place(group, room, online_link)
    _lock_rooms(room)
    session = Session(
        institution_id=group.institution_id,
        group=group,
        starts_at=starts_at,
        ends_at=ends_at,
        room=room,
        online_link=online_link,
        theme=theme,
        sequence=0,
    )
    _check_session_fields(session, group)
    _check_conflicts(session)
    session.full_clean(exclude=["institution"])
    session.save()
    _renumber(group, [session])
    audit_record(actor=by, action="session.scheduled", obj=session)
    return session


@transaction.atomic
def schedule_create(
    *,
    group: SupportGroup,
    by,
    weekdays: list[int],
    start_time: datetime.time,
    duration_minutes: int,
    starts_on: datetime.date,
    until: datetime.date | None = None,
    count: int | None = None,
    skip_dates: list[datetime.date] = (),
    interval_weeks: int = 1,
    room=None,
    online_link: str = "",
) -> list[Session]:
    """Generate a group's sessions from a recurrence rule, all or none: one clash refuses the lot
    (and leaves no recurrence rule behind).

    `count` is the number of sessions created: skipped dates (holidays) do not use it up.
    """
    require_role(by, group.institution_id, PLANNING_ROLES, _("schedule sessions"))
    _check_group_not_ended(group)
    errors = {}
    if not weekdays or not all(isinstance(d, int) and 0 <= d <= 6 for d in weekdays):
        errors["weekdays"] = _("Choose at least one weekday.")
    if (until is None) == (count is None):
        errors["until"] = _("Give either a last date or a number of sessions.")
    elif until is not None and until < starts_on:
        errors["until"] = _("The last date must not be before the first.")
    if errors:
        raise ValidationError(errors)
    room, online_link = _place(group, room, online_link)
    rule = RecurrenceRule(
        group=group,
        weekdays=sorted(set(weekdays)),
        interval_weeks=interval_weeks,
        start_time=start_time,
        duration_minutes=duration_minutes,
        starts_on=starts_on,
        until=until,
        count=count,
        skip_dates=sorted({d.isoformat() for d in skip_dates}),
        room=room,
        online_link=online_link,
        created_by=by,
    )
    rule.full_clean()
    occurrences = rule.occurrences(group.institution.tzinfo)
    if not occurrences:
        raise ValidationError({"starts_on": _("This schedule produces no sessions.")})
    if len(occurrences) > 260:
        raise ValidationError({"until": _("A schedule can create at most 260 sessions at once.")})
    rule.save()
    _lock_rooms(room)
    created = []
    for starts, ends in occurrences:
        session = Session(
            institution_id=group.institution_id,
            group=group,
            recurrence=rule,
            starts_at=starts,
            ends_at=ends,
            room=room,
            online_link=online_link,
            sequence=0,
        )
        _check_session_fields(session, group)
        try:
            _check_conflicts(session)
        except ValidationError as exc:
            local = timezone.localtime(starts, group.institution.tzinfo)
            raise ValidationError(
                {
                    field: [f"{local:%Y-%m-%d %H:%M}: {m}" for m in messages]
                    for field, messages in exc.message_dict.items()
                }
            ) from exc
        session.full_clean(exclude=["institution"])
        session.save()
        created.append(session)
    _renumber(group, created)
    audit_record(actor=by, action="schedule.created", obj=group, details={"sessions": len(created)})
    return created


@transaction.atomic
def session_reschedule(
    *,
    session: Session,
    by,
    starts_at=None,
    ends_at=None,
    room=None,
    online_link=None,
    precondition: Precondition = None,
) -> Session:
    """Move a session that has not taken place; members hear of it (see notifications)."""
    require_role(by, session.institution_id, PLANNING_ROLES, _("reschedule sessions"))
    session = lock_for_change(session, precondition)
    if session.status != Session.Status.SCHEDULED:
        raise ValidationError(_("Only a scheduled session can be moved."))
    if session.has_begun():
        raise ValidationError(_("A session that has begun cannot be moved."))
    previous = {"starts_at": session.starts_at.isoformat(), "room": session.room_id}
    if starts_at is not None:
        if starts_at < timezone.now():
            raise ValidationError({"starts_at": _("A session cannot be moved into the past.")})
        length = session.ends_at - session.starts_at
        session.starts_at = starts_at
        session.ends_at = ends_at or starts_at + length
    elif ends_at is not None:
        session.ends_at = ends_at
    if room is not None:
        session.room = room or None
    if online_link is not None:
        session.online_link = online_link
    _lock_rooms(session.room_id)
    _check_session_fields(session, session.group)
    _check_conflicts(session)
    session.full_clean(exclude=["institution"])
    session.save(update_fields=changed_fields("starts_at", "ends_at", "room", "online_link"))
    _renumber(session.group)
    audit_record(
        actor=by, action="session.rescheduled", obj=session, details={"previous": previous}
    )
    from notifications.hooks import session_changed

    session_changed(session, kind="moved")
    return session


def _renumber(group: SupportGroup, sessions: list[Session] = ()) -> None:
    """Number the group's sessions 1, 2, 3… in chronological order, cancelled ones included,
    and give `sessions` (objects in memory) their numbers."""
    now = timezone.now()
    changed = []
    for number, session in enumerate(
        group.sessions.order_by("starts_at", "id").only("pk", "sequence"), start=1
    ):
        if session.sequence != number:
            session.sequence = number
            session.updated_at = now  # the mobile app syncs the new number
            changed.append(session)
    Session.objects.bulk_update(changed, ["sequence", "updated_at"], batch_size=500)
    numbers = {s.pk: s.sequence for s in changed}
    for session in sessions:
        session.sequence = numbers.get(session.pk, session.sequence)


@transaction.atomic
def session_cancel(
    *,
    session: Session,
    by,
    reason: str,
    cancelled_by: str = Session.CancelledBy.CENTRE,
    precondition: Precondition = None,
) -> Session:
    """Cancel a session with a reason; members with a contact consent are told."""
    require_role(by, session.institution_id, PLANNING_ROLES, _("cancel sessions"))
    session = lock_for_change(session, precondition)
    if session.status == Session.Status.CANCELLED:
        raise ValidationError(_("The session is already cancelled."))
    if session.status != Session.Status.SCHEDULED:
        raise ValidationError(_("A session that took place cannot be cancelled."))
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reason for the cancellation.")})
    if cancelled_by not in Session.CancelledBy.values:
        raise ValidationError(
            {"cancelled_by": _("Say whether the centre or the facilitator cancelled.")}
        )
    session.status = Session.Status.CANCELLED
    session.cancelled_by = cancelled_by
    session.cancelled_by_user = by
    session.cancellation_reason = reason.strip()
    session.cancelled_at = timezone.now()
    session.save(
        update_fields=changed_fields(
            "status", "cancelled_by", "cancelled_by_user", "cancellation_reason", "cancelled_at"
        )
    )
    audit_record(
        actor=by,
        action="session.cancelled",
        obj=session,
        details={"reason": session.cancellation_reason},
    )
    from notifications.hooks import session_changed

    session_changed(session, kind="cancelled")
    return session


@transaction.atomic
def session_mark_not_held(
    *, session: Session, by, reason: str = "", precondition: Precondition = None
) -> Session:
    """Record that a session that began did not take place because the quorum was not reached."""
    require_role(by, session.institution_id, PLANNING_ROLES, _("change sessions"))
    session = lock_for_change(session, precondition)
    if session.status not in (Session.Status.SCHEDULED, Session.Status.HELD):
        raise ValidationError(_("Only a scheduled or held session can be marked as not held."))
    if not session.has_begun():
        raise ValidationError(_("A session that has not begun cannot be marked as not held."))
    if (
        session.attendance_records.filter(status__in=["present", "late", "left_early"]).count()
        >= session.group.min_size
    ):
        raise ValidationError(_("The quorum was reached: attendance shows enough people present."))
    session.status = Session.Status.NOT_HELD
    session.cancellation_reason = reason
    session.save()
    audit_record(actor=by, action="session.not_held", obj=session, details={"reason": reason})
    return session


@transaction.atomic
def session_update(
    *,
    session: Session,
    by,
    theme=None,
    substitute_facilitator=...,
    precondition: Precondition = None,
) -> Session:
    """Set a session's theme or its substitute facilitator."""
    require_role(by, session.institution_id, PLANNING_ROLES, _("change sessions"))
    session = lock_for_change(session, precondition)
    if theme is not None:
        session.theme = theme
    if substitute_facilitator is not ...:
        if substitute_facilitator is not None and not _can_lead_groups(
            substitute_facilitator, session.institution_id
        ):
            raise ValidationError(
                {
                    "substitute_facilitator": _(
                        "The substitute must be a facilitator of this institution."
                    )
                }
            )
        session.substitute_facilitator = substitute_facilitator
        _check_conflicts(session)
    session.full_clean(exclude=["institution"])
    session.save(update_fields=changed_fields("theme", "substitute_facilitator"))
    audit_record(actor=by, action="session.changed", obj=session)
    return session
