"""What staff are told: day plans, follow-ups, expiring consents."""

import datetime
import functools

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from attendance.models import Consent, FollowUpTask
from clinics.models import Institution, StaffMembership
from sessions.models import Session

from ..models import OutboxMessage
from .members import _place, _when
from .outbox import _dispatch, outbox_enqueue

Kind = OutboxMessage.Kind
Channel = OutboxMessage.Channel
Status = OutboxMessage.Status


CONSENT_WARNING = datetime.timedelta(days=getattr(settings, "CONSENT_EXPIRY_WARNING_DAYS", 14))


# --- What staff are told ---------------------------------------------------------------------


def _staff_users(institution_id: int, roles) -> list:
    memberships = StaffMembership.objects.filter(
        institution_id=institution_id, role__in=roles, is_active=True, user__is_active=True
    ).exclude(user__email="")
    return [m.user for m in memberships.select_related("user").order_by("user_id")]


def _enqueue_to_user(
    *, key: str, kind: str, user, institution, texts, session=None, enrollment=None, follow_up=None
):
    if OutboxMessage.objects.filter(key=key).exists():
        return None
    with translation.override(institution.language):
        subject, body = texts()
    return outbox_enqueue(
        key=key,
        kind=kind,
        institution=institution,
        channel=Channel.EMAIL,
        subject=subject,
        body=body,
        to=user.email,
        user=user,
        session=session,
        enrollment=enrollment,
        follow_up=follow_up,
    )


def _day_plan_text(institution: Institution, day: datetime.date, sessions: list[Session]):
    lines = []
    for session in sessions:
        _date, time = _when(session)
        line = f"{time}  {session.group.name} (#{session.sequence}) — {_place(session)}"
        if session.theme:
            line += f" — {session.theme}"
        lines.append(line)
    facts = {"date": formats.date_format(day, "DATE_FORMAT"), "institution": institution.name}
    subject = _("Your sessions today, %(date)s") % facts
    body = _("Your sessions at %(institution)s today, %(date)s:") % facts
    return subject, body + "\n\n" + "\n".join(lines)


def _facilitators_of(session: Session) -> set[int]:
    users = {role.user_id for role in session.group.facilitator_roles.all()}
    if session.substitute_facilitator_id:
        users.add(session.substitute_facilitator_id)
    return users


@transaction.atomic
def day_plans_enqueue(*, now=None) -> list[int]:
    """E-mail each facilitator the plan of their sessions today, once the morning has come in
    the institution's time zone (the job runs hourly; the key allows one plan a day)."""
    now = now or timezone.now()
    morning = getattr(settings, "DAY_PLAN_HOUR", 6)
    created = []
    for institution in Institution.objects.all():
        tz = institution.tzinfo
        local_now = timezone.localtime(now, tz)
        if local_now.hour < morning:
            continue
        day = local_now.date()
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tz)
        sessions = list(
            Session.objects.filter(institution=institution, starts_at__gte=start, starts_at__lt=end)
            .exclude(status=Session.Status.CANCELLED)
            .select_related("group", "room__site", "institution")
            .prefetch_related("group__facilitator_roles")
            .order_by("starts_at")
        )
        if not sessions:
            continue
        staff = {u.pk: u for u in _staff_users(institution.pk, StaffMembership.Role.values)}
        plans: dict[int, list[Session]] = {}
        for session in sessions:
            for user_id in _facilitators_of(session):
                if user_id in staff:
                    plans.setdefault(user_id, []).append(session)
        for user_id, own in plans.items():
            message = _enqueue_to_user(
                key=f"{Kind.DAY_PLAN}:user-{user_id}:institution-{institution.pk}:{day.isoformat()}",
                kind=Kind.DAY_PLAN,
                user=staff[user_id],
                institution=institution,
                texts=functools.partial(_day_plan_text, institution, day, own),
            )
            if message is not None:
                created.append(message.pk)
    _dispatch(created)
    return created


def _follow_up_text(task: FollowUpTask):
    enrollment = task.enrollment
    facts = {
        "code": enrollment.participant.code,
        "group": enrollment.group.name,
        "date": formats.date_format(task.trigger_session.local_date(), "DATE_FORMAT"),
    }
    subject = _("Follow-up: %(code)s missed two sessions in a row") % facts
    body = _(
        "%(code)s of the group “%(group)s” missed two sessions in a row without an explanation "
        "(the last on %(date)s). Please reach out and record the outcome of the follow-up."
    )
    return subject, body % facts


@transaction.atomic
def follow_up_notices_enqueue() -> list[int]:
    """E-mail the assigned facilitator about each open follow-up task, once per task."""
    tasks = (
        FollowUpTask.objects.filter(
            status=FollowUpTask.Status.OPEN,
            assigned_to__isnull=False,
            assigned_to__is_active=True,
        )
        .exclude(assigned_to__email="")
        .select_related(
            "assigned_to",
            "institution",
            "enrollment__participant",
            "enrollment__group",
            "trigger_session__institution",
        )
    )
    created = []
    for task in tasks:
        message = _enqueue_to_user(
            key=f"{Kind.FOLLOW_UP}:task-{task.pk}:user-{task.assigned_to_id}",
            kind=Kind.FOLLOW_UP,
            user=task.assigned_to,
            institution=task.institution,
            texts=functools.partial(_follow_up_text, task),
            session=task.trigger_session,
            follow_up=task,
        )
        if message is not None:
            created.append(message.pk)
    _dispatch(created)
    return created


def _consent_text(consent: Consent):
    facts = {
        "code": consent.participant.code,
        "purpose": consent.get_purpose_display(),
        "date": formats.date_format(
            timezone.localtime(consent.expires_at, consent.institution.tzinfo), "DATE_FORMAT"
        ),
    }
    subject = _("Consent of %(code)s expires on %(date)s") % facts
    body = _(
        "The consent of %(code)s to “%(purpose)s” expires on %(date)s. Renew it with the "
        "participant if it is still needed."
    )
    return subject, body % facts


@transaction.atomic
def expiring_consent_notices_enqueue(*, now=None) -> list[int]:
    """Flag consents that expire within the warning period to the institution's admins and
    staff, once per consent and person."""
    now = now or timezone.now()
    consents = (
        Consent.objects.active(now)
        .filter(
            status=Consent.Status.GRANTED,
            expires_at__lte=now + CONSENT_WARNING,
            participant__erased_at__isnull=True,
        )
        .select_related("participant", "institution")
        .order_by("expires_at", "pk")
    )
    staff_by_institution: dict[int, list] = {}
    created = []
    for consent in consents:
        if consent.institution_id not in staff_by_institution:
            staff_by_institution[consent.institution_id] = _staff_users(
                consent.institution_id, (StaffMembership.Role.ADMIN, StaffMembership.Role.STAFF)
            )
        for user in staff_by_institution[consent.institution_id]:
            message = _enqueue_to_user(
                key=f"{Kind.CONSENT_EXPIRING}:consent-{consent.pk}:user-{user.pk}",
                kind=Kind.CONSENT_EXPIRING,
                user=user,
                institution=consent.institution,
                texts=functools.partial(_consent_text, consent),
            )
            if message is not None:
                created.append(message.pk)
    _dispatch(created)
    return created
