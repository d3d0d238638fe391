"""Appointment: a session as planned — when, who leads it, who is expected (the group's
members on that day, for the clinical roles) and, if cancelled, by whom and why."""

import datetime
import zoneinfo

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import TruncDate

from attendance.models import Enrollment
from clinics.querysets import time_zones_of
from clinics.roles import CLINICAL_ROLES
from sessions.models import GroupFacilitator, Session

from ..permissions import sees_members
from ..search import Stream, filter_date, numeric_ids, reference_ids, token_codes
from .base import ResourceType, SearchParameter
from .common import (
    CANCELLED_BY_SYSTEM,
    GROUP_SEARCH_PARAMETER,
    V3_PARTICIPATION_TYPE,
    coding,
    drop_empty,
    instant,
    meta,
    person_name,
    reference,
)
from .group import MEMBERS

STATUS = {
    Session.Status.SCHEDULED: "booked",
    Session.Status.HELD: "fulfilled",
    Session.Status.NOT_HELD: "noshow",
    Session.Status.CANCELLED: "cancelled",
}
# How each facilitator takes part (v3 ParticipationType, the binding of participant.type).
PARTICIPATION = {
    GroupFacilitator.Role.LEAD: ("PPRF", "primary performer"),
    GroupFacilitator.Role.CO_FACILITATOR: ("SPRF", "secondary performer"),
    GroupFacilitator.Role.TRAINEE: ("SPRF", "secondary performer"),
    GroupFacilitator.Role.OBSERVER: ("PART", "Participation"),
}
SUBSTITUTE = ("PPRF", "primary performer")


class SessionContext:
    """What the sessions of one page share, read once: their groups' facilitators, members and
    the institutions' time zones (a session's day, and so its roster, is the institution's)."""

    def __init__(self, user, sessions: list[Session], *, with_members: bool = True):
        group_ids = {s.group_id for s in sessions}
        self.facilitators: dict[int, list[GroupFacilitator]] = {}
        rows = GroupFacilitator.objects.filter(group_id__in=group_ids).select_related("user")
        order = list(GroupFacilitator.Role)
        for role in sorted(rows, key=lambda f: (order.index(f.role), f.user.get_username())):
            self.facilitators.setdefault(role.group_id, []).append(role)
        self.members: dict[int, list[Enrollment]] = {}
        readable = [g for g in group_ids if with_members and self._sees(user, sessions, g)]
        if readable:
            for enrollment in MEMBERS.filter(group_id__in=readable).order_by("joined_on", "pk"):
                self.members.setdefault(enrollment.group_id, []).append(enrollment)
        self.readable_groups = set(readable)
        self.zones = time_zones_of(user)

    @staticmethod
    def _sees(user, sessions, group_id) -> bool:
        institution_id = next(s.institution_id for s in sessions if s.group_id == group_id)
        return sees_members(user, institution_id)

    def local_date(self, session: Session) -> datetime.date:
        zone = zoneinfo.ZoneInfo(self.zones.get(session.institution_id, "UTC"))
        return session.starts_at.astimezone(zone).date()

    def roster(self, session: Session) -> list[Enrollment] | None:
        """The members on the session's day; None when the reader may not see members."""
        if session.group_id not in self.readable_groups:
            return None
        day = self.local_date(session)
        return [
            e
            for e in self.members.get(session.group_id, [])
            if e.joined_on <= day and (e.left_on is None or e.left_on > day)
        ]

    def practitioners(self, session: Session) -> list[tuple[object, tuple[str, str]]]:
        """(user, participation type) of who leads the session: the group's facilitators (as
        they are now; Krąg keeps no history of them) and the session's substitute."""
        people = [
            (f.user, PARTICIPATION[f.role]) for f in self.facilitators.get(session.group_id, [])
        ]
        if session.substitute_facilitator_id:
            people.append((session.substitute_facilitator, SUBSTITUTE))
        return people


def practitioner_participant(user, participation: tuple[str, str]) -> dict:
    return {
        "type": [{"coding": [coding(V3_PARTICIPATION_TYPE, *participation)]}],
        "actor": reference("Practitioner", user.pk, person_name(user)),
        "required": "required",
        "status": "accepted",
    }


def appointment(session: Session, context: SessionContext) -> dict:
    participants = [
        practitioner_participant(user, participation)
        for user, participation in context.practitioners(session)
    ]
    for enrollment in context.roster(session) or []:
        participants.append(
            {
                "actor": reference("Patient", enrollment.participant_id),
                "required": "required",
                "status": "accepted",
            }
        )
    if not participants:
        # R4 requires a participant: a session nobody leads yet needs its primary performer.
        participants.append(
            {
                "type": [{"coding": [coding(V3_PARTICIPATION_TYPE, *PARTICIPATION["lead"])]}],
                "required": "required",
                "status": "needs-action",
            }
        )
    resource = {
        "resourceType": "Appointment",
        "id": str(session.pk),
        "meta": meta(session),
        "status": STATUS[session.status],
        "start": instant(session.starts_at),
        "end": instant(session.ends_at),
        "minutesDuration": int((session.ends_at - session.starts_at).total_seconds() // 60),
        "created": instant(session.created_at),
        "supportingInformation": [reference("Group", session.group_id)],
        "participant": participants,
    }
    if session.status == Session.Status.CANCELLED:
        resource["cancelationReason"] = drop_empty(
            {
                "coding": [
                    coding(
                        CANCELLED_BY_SYSTEM,
                        session.cancelled_by,
                        session.get_cancelled_by_display(),
                    )
                ]
                if session.cancelled_by
                else [],
                "text": session.cancellation_reason,
            }
        )
    return drop_empty(resource)


def sessions_queryset():
    return Session.objects.select_related("substitute_facilitator")


def filter_group(queryset, values):
    return queryset.filter(group_id__in=numeric_ids(reference_ids(values, "Group")))


class AppointmentType(ResourceType):
    name = "Appointment"
    documentation = (
        "Sessions as planned. The group's members appear among the participants for the "
        "clinical roles only."
    )
    parameters = (
        SearchParameter(
            "date",
            "date",
            "http://hl7.org/fhir/SearchParameter/clinical-date",
            "When the session starts.",
        ),
        SearchParameter(
            "status",
            "token",
            "http://hl7.org/fhir/SearchParameter/Appointment-status",
            "booked, fulfilled, noshow (quorum not reached) or cancelled.",
        ),
        SearchParameter(
            "patient",
            "reference",
            "http://hl7.org/fhir/SearchParameter/clinical-patient",
            "Sessions of the groups a Patient was a member of on the session's day "
            "(clinical roles only; the day in the server's time zone).",
        ),
        SearchParameter(
            "group",
            "reference",
            GROUP_SEARCH_PARAMETER,
            "Sessions of a Group (Krąg's parameter: Appointment.supportingInformation).",
        ),
        SearchParameter(
            "supporting-info",
            "reference",
            "http://hl7.org/fhir/SearchParameter/Appointment-supporting-info",
            "The same as group.",
        ),
    )

    def streams(self):
        return [Stream("", self.scoped(sessions_queryset()))]

    def filter_date(self, key, queryset, values):
        return filter_date(queryset, "starts_at", values)

    def filter_status(self, key, queryset, values):
        wanted = set(token_codes(values))
        return queryset.filter(status__in=[s for s, code in STATUS.items() if code in wanted])

    def filter_group(self, key, queryset, values):
        return filter_group(queryset, values)

    def filter_supporting_info(self, key, queryset, values):
        return filter_group(queryset, values)

    def filter_patient(self, key, queryset, values):
        ids = numeric_ids(reference_ids(values, "Patient"))
        day = OuterRef("fhir_day")
        members = (
            MEMBERS.filter(group=OuterRef("group_id"), participant_id__in=ids, joined_on__lte=day)
            .filter(Q(left_on__isnull=True) | Q(left_on__gt=day))
            .for_user(self.user, roles=CLINICAL_ROLES)
        )
        return queryset.annotate(fhir_day=TruncDate("starts_at")).filter(Exists(members))

    def represent(self, rows):
        sessions = [session for _key, session in rows]
        context = SessionContext(self.user, sessions)
        return [appointment(session, context) for session in sessions]
