"""Quorum: a session that ended with fewer members present than the group's minimum was not
held (SPEC "Quorum"). The periodic job decides it by itself, once per session; the group's
facilitator may reverse it with a reason within 7 days. A session that ended with no marks at
all is not guessed at: its facilitators get a task "attendance not taken"."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.roles import PLANNING_ROLES, Role, require_role, role_of

from ..models import GroupFacilitator, Session
from ..policies import session_role

REVERSAL_WINDOW = datetime.timedelta(days=7)
# How far back the job looks: sessions that ended before it was deployed (or longer ago than a
# facilitator could still react to) are left as they are.
LOOK_BACK = datetime.timedelta(days=7)


def attended_count(session: Session) -> int:
    """Members present, late or left early (AttendanceRecord.ATTENDED)."""
    from attendance.models import AttendanceRecord

    return session.attendance_records.filter(status__in=AttendanceRecord.ATTENDED).count()


def _settle_one(session_id: int, now: datetime.datetime) -> str:
    from attendance.models import AttendanceNotTaken

    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("group", "institution")
            .get(pk=session_id)
        )
        if session.quorum_checked_at is not None or session.ends_at > now:
            return ""
        if session.status not in (Session.Status.SCHEDULED, Session.Status.HELD):
            return ""
        if not session.attendance_records.exists():
            # Not guessed at: a task, once; the quorum is looked at when marks arrive.
            task, created = AttendanceNotTaken.objects.get_or_create(
                session=session, defaults={"institution_id": session.institution_id}
            )
            if created:
                audit_record(actor=None, action="attendance.not_taken", obj=session)
            return "not_taken" if created else ""
        present = attended_count(session)
        outcome = ""
        if present < session.group.min_size:
            session.status = Session.Status.NOT_HELD
            session.cancellation_reason = str(
                _("Quorum not reached: %(present)s present of a minimum of %(min)s.")
                % {"present": present, "min": session.group.min_size}
            )
            outcome = "not_held"
        session.quorum_checked_at = now
        session.save(
            update_fields=changed_fields("status", "cancellation_reason", "quorum_checked_at")
        )
        if outcome:
            audit_record(
                actor=None,
                action="session.not_held",
                obj=session,
                details={"present": present, "min_size": session.group.min_size, "auto": True},
            )
        return outcome


def sessions_settle_quorum(*, now: datetime.datetime | None = None) -> dict:
    """The periodic job: every session that ended (within the look-back) and was not looked at
    yet: with marks, held or not held by its quorum; with none, a task. Idempotent."""
    now = now or timezone.now()
    ids = list(
        Session.objects.filter(
            status__in=[Session.Status.SCHEDULED, Session.Status.HELD],
            quorum_checked_at__isnull=True,
            ends_at__lte=now,
            ends_at__gt=now - LOOK_BACK,
        )
        .order_by("ends_at")
        .values_list("pk", flat=True)
    )
    counts = {"not_held": 0, "not_taken": 0}
    for pk in ids:
        outcome = _settle_one(pk, now)
        if outcome:
            counts[outcome] += 1
    return counts


@transaction.atomic
def session_quorum_reverse(
    *, session: Session, by, reason: str, precondition: Precondition = None
) -> Session:
    """A facilitator of the group says a session found not held did take place: it becomes
    held again, with the reason, within 7 days of its end (audited)."""
    require_role(by, session.institution_id, PLANNING_ROLES, _("change sessions"))
    session = lock_for_change(session, precondition)
    if session.status != Session.Status.NOT_HELD:
        raise ValidationError(_("Only a session found not held can be reversed."))
    if not _is_admin(by, session) and session_role(by, session) not in (
        GroupFacilitator.LOCKING_ROLES
    ):
        raise PermissionDenied(
            _("Only the group's lead or co-facilitators (or an admin) reverse a quorum decision.")
        )
    if timezone.now() > session.ends_at + REVERSAL_WINDOW:
        raise ValidationError(
            _(
                "A quorum decision can be reversed within 7 days of the session; ask an admin to "
                "correct the register instead."
            )
        )
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reason the session counts as held.")})
    session.status = Session.Status.HELD
    session.cancellation_reason = ""
    session.quorum_checked_at = session.quorum_checked_at or timezone.now()
    session.save(update_fields=changed_fields("status", "cancellation_reason", "quorum_checked_at"))
    audit_record(
        actor=by,
        action="session.quorum_reversed",
        obj=session,
        details={"reason": reason.strip(), "present": attended_count(session)},
    )
    return session


def _is_admin(user, session: Session) -> bool:
    return role_of(user, session.institution_id) == Role.ADMIN
