"""Follow-up tasks: two unexplained absences in a row, and resolving them."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Q, Subquery, When
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import changed_fields, lock_for_change
from clinics.roles import CLINICAL_ROLES, require_role
from sessions.models import GroupFacilitator, Session

from ..models import AttendanceRecord, Enrollment, FollowUpTask

Status = Enrollment.Status


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
    task = lock_for_change(task)
    if task.status == FollowUpTask.Status.DONE:
        raise ValidationError(_("This follow-up is already done."))
    if not (outcome or "").strip():
        raise ValidationError({"outcome": _("Say what came of the follow-up.")})
    task.status = FollowUpTask.Status.DONE
    task.outcome = outcome.strip()
    task.resolved_at = timezone.now()
    task.resolved_by = by
    task.save(update_fields=changed_fields("status", "outcome", "resolved_at", "resolved_by"))
    audit_record(actor=by, action="follow_up.resolved", obj=task)
    return task
