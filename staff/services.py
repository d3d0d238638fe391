"""Steps the staff UI takes together, all or none. The rules stay in the domain services."""

from django.core.exceptions import ValidationError
from django.db import transaction

from attendance.models import Consent, Enrollment
from attendance.services import (
    consent_grant,
    enrollment_admit,
    enrollment_refer,
    enrollment_waitlist,
    enrollment_walk_in,
    has_consent,
)
from clinics.models import Participant
from clinics.services import participant_register
from sessions.models import Session, SupportGroup
from sessions.services import group_create, schedule_create


@transaction.atomic
def walk_in_register(
    *,
    session: Session,
    by,
    method: str,
    text_version: str,
    alias: str = "",
    participant: Participant | None = None,
) -> Enrollment:
    """Someone came to an open group's session: register them (or take the one registered),
    record their consent to take part and its ground rules, and put them on today's roster."""
    group = session.group
    consent = {
        "purpose": Consent.Purpose.PARTICIPATION,
        "method": method,
        "text_version": text_version,
        "group": group,
    }
    if participant is None:
        participant = participant_register(
            institution=group.institution, by=by, alias=alias, consents=[consent]
        )
    elif not has_consent(participant, Consent.Purpose.PARTICIPATION, group=group):
        consent_grant(participant=participant, by=by, **consent)
    return enrollment_walk_in(participant=participant, group=group, by=by, session=session)


@transaction.atomic
def member_add(
    *, group: SupportGroup, participant: Participant, by, referral_source: str, then: str
) -> Enrollment:
    """Refer a participant to a group and, in the same step, waitlist or admit them: a refusal
    (a closed group that started, a full group) leaves nothing behind."""
    enrollment = enrollment_refer(
        participant=participant, group=group, by=by, referral_source=referral_source
    )
    if then == "waitlist":
        enrollment = enrollment_waitlist(enrollment=enrollment, by=by)
    elif then == "admit":
        enrollment = enrollment_admit(enrollment=enrollment, by=by)
    return enrollment


class ScheduleRefused(Exception):
    """The schedule part of creating a group was refused (the group part was fine)."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


@transaction.atomic
def group_create_with_schedule(
    *, institution, by, facilitators, group_fields: dict, schedule: dict
) -> tuple[SupportGroup, list[Session]]:
    """Create a group and generate its sessions; a clash in the schedule creates nothing."""
    group = group_create(institution=institution, by=by, facilitators=facilitators, **group_fields)
    try:
        sessions = schedule_create(group=group, by=by, **schedule)
    except ValidationError as exc:
        raise ScheduleRefused(exc) from exc
    return group, sessions
