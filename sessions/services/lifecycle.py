"""A group's lifecycle: planned → active ⇄ paused → ended, and planned → ended (SPEC "Group
lifecycle"). No other move exists; each one does what people plan around, in one transaction.

- pausing names the day the group resumes and a reason; the scheduled sessions in between are
  cancelled by the centre (members told); a paused group sends no reminders and makes no offers;
- resuming (by hand, or by `groups_resume_due` on the named day) makes it active again;
- ending cancels its future sessions (members told), completes its active memberships on the
  end date, ends its waiting list with a reason and a notice, and lets nothing new in.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.roles import PLANNING_ROLES, require_role

from ..models import Session, SupportGroup

GroupStatus = SupportGroup.Status

MOVES = {
    GroupStatus.PLANNED: (GroupStatus.ACTIVE, GroupStatus.ENDED),
    GroupStatus.ACTIVE: (GroupStatus.PAUSED, GroupStatus.ENDED),
    GroupStatus.PAUSED: (GroupStatus.ACTIVE, GroupStatus.ENDED),
    GroupStatus.ENDED: (),
}


def may_move(current: str, new: str) -> bool:
    """Whether the lifecycle allows the move from `current` to `new`."""
    return new in MOVES.get(current, ())


def _refuse_move(group: SupportGroup, status: str) -> None:
    labels = dict(GroupStatus.choices)
    if status not in labels:
        raise ValidationError({"status": _("Unknown group status.")})
    if group.status == GroupStatus.ENDED:
        raise ValidationError(
            {"status": _("The group has ended and cannot start again; plan a new group instead.")}
        )
    allowed = ", ".join(str(labels[s]) for s in MOVES[group.status])
    raise ValidationError(
        {
            "status": _("A %(current)s group can become: %(allowed)s.")
            % {"current": str(labels[group.status]).lower(), "allowed": allowed.lower()}
        }
    )


def _cancel(sessions, *, by, reason: str) -> int:
    """Cancel `sessions` by the centre, each through session_cancel (members told)."""
    from .scheduling import session_cancel

    count = 0
    for session in sessions:
        session_cancel(session=session, by=by, reason=reason)
        count += 1
    return count


def _move(
    group: SupportGroup,
    *,
    by,
    status: str,
    resume_on: datetime.date | None,
    reason: str,
) -> dict:
    """Apply one move to the locked `group`; returns what it did, for the audit row."""
    reason = (reason or "").strip()
    today = group.institution.local_now().date()
    now = timezone.now()
    done: dict = {"from": group.status, "to": status}
    if not may_move(group.status, status):
        _refuse_move(group, status)
    if status == GroupStatus.PAUSED:
        errors = {}
        if resume_on is None:
            errors["resume_on"] = _("Say on which day the group resumes.")
        elif resume_on <= today:
            errors["resume_on"] = _("The day the group resumes must be after today.")
        if not reason:
            errors["reason"] = _("Give the reason for the pause; members' notices do not show it.")
        if errors:
            raise ValidationError(errors)
        tz = group.institution.tzinfo
        until = datetime.datetime.combine(resume_on, datetime.time.min, tzinfo=tz)
        between = group.sessions.filter(
            status=Session.Status.SCHEDULED, starts_at__gte=now, starts_at__lt=until
        ).order_by("starts_at")
        done["cancelled"] = _cancel(between, by=by, reason=reason)
        group.resume_on = resume_on
    elif status == GroupStatus.ENDED:
        if not reason:
            raise ValidationError({"reason": _("Give the reason for ending the group.")})
        end = min(group.ends_on, today) if group.ends_on else today
        if end < group.starts_on:
            end = group.starts_on
        future = group.sessions.filter(status=Session.Status.SCHEDULED, starts_at__gte=now)
        done["cancelled"] = _cancel(future.order_by("starts_at"), by=by, reason=reason)
        from attendance.services import enrollments_close_for_group

        done.update(enrollments_close_for_group(group=group, by=by, on=end, reason=reason))
        group.ends_on = end
        group.resume_on = None
    else:
        group.resume_on = None
    group.status = status
    group.status_reason = reason
    return done


@transaction.atomic
def group_move(
    *,
    group: SupportGroup,
    by,
    status: str,
    resume_on: datetime.date | None = None,
    reason: str = "",
    precondition: Precondition = None,
) -> SupportGroup:
    """Move a group along its lifecycle (see the module's docstring)."""
    if by is not None:
        require_role(by, group.institution_id, PLANNING_ROLES, _("change a group's status"))
    group = lock_for_change(group, precondition)
    done = _move(group, by=by, status=status, resume_on=resume_on, reason=reason)
    group.save(update_fields=changed_fields("status", "status_reason", "resume_on", "ends_on"))
    audit_record(
        actor=by,
        action="group.status_changed",
        obj=group,
        details={**done, "fields": ["status_reason"]},  # the reason stays on the group
    )
    return group


def groups_resume_due(*, today: datetime.date | None = None) -> list[int]:
    """The periodic job: paused groups whose day to resume has come become active again.
    Idempotent: a resumed group is no longer paused."""
    resumed = []
    for group in SupportGroup.objects.filter(
        status=GroupStatus.PAUSED, resume_on__isnull=False
    ).select_related("institution"):
        day = today or group.institution.local_now().date()
        if group.resume_on > day:
            continue
        with transaction.atomic():
            locked = SupportGroup.objects.select_for_update().get(pk=group.pk)
            if locked.status != GroupStatus.PAUSED:
                continue
            locked.status = GroupStatus.ACTIVE
            locked.resume_on = None
            locked.save(update_fields=changed_fields("status", "resume_on"))
            audit_record(
                actor=None,
                action="group.status_changed",
                obj=locked,
                details={"from": GroupStatus.PAUSED, "to": GroupStatus.ACTIVE, "resumed": True},
            )
        resumed.append(group.pk)
    return resumed
