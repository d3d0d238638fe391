"""Encounter: a session as it took place, and each marked member's attendance as an Encounter
`partOf` it, whose status and extension carry the mark.

Two tables, one resource type: a session's Encounter has the session's id (`12`), a member's
has the session's and the participant's (`12-34`). Searches read the sessions first, then the
attendance records (search.read_page); the cursor says which.
"""

import datetime
import re
import zoneinfo

from django.db.models import Q

from attendance.models import AttendanceRecord
from audit.services import audit_record, listed_details
from sessions.models import Session

from ..outcome import not_found
from ..search import Stream, filter_date, numeric_ids, reference_ids, token_codes
from .appointment import SessionContext
from .base import ResourceType, SearchParameter
from .common import (
    ATTENDANCE_MARK_EXTENSION,
    ATTENDANCE_MARK_SYSTEM,
    ENCOUNTER_GROUP_SEARCH_PARAMETER,
    ENCOUNTER_TYPE_SYSTEM,
    V3_ACT_CODE,
    V3_PARTICIPATION_TYPE,
    coding,
    drop_empty,
    instant,
    meta,
    person_name,
    reference,
)

SESSIONS, MEMBERS = "s", "a"
# A session is an Encounter once it took place or was called off; until then it is only an
# Appointment. Not held for want of quorum counts as called off (the marks stay on the
# members' Encounters).
TOOK_PLACE = (Session.Status.HELD,)
CALLED_OFF = (Session.Status.NOT_HELD, Session.Status.CANCELLED)
ENCOUNTER_SESSIONS = TOOK_PLACE + CALLED_OFF
MEMBER_ID = re.compile(r"^(\d{1,18})-(\d{1,18})$")


def encounter_class(session: Session) -> dict:
    if session.format == Session.Format.ONLINE:
        return coding(V3_ACT_CODE, "VR", "virtual")
    return coding(V3_ACT_CODE, "AMB", "ambulatory")


def session_encounter(session: Session, context: SessionContext) -> dict:
    return drop_empty(
        {
            "resourceType": "Encounter",
            "id": str(session.pk),
            "meta": meta(session),
            "status": "finished" if session.status in TOOK_PLACE else "cancelled",
            "class": encounter_class(session),
            "type": [
                {
                    "coding": [
                        coding(ENCOUNTER_TYPE_SYSTEM, "group-session", "Support group session")
                    ]
                }
            ],
            "subject": reference("Group", session.group_id),
            "participant": [
                {
                    "type": [{"coding": [coding(V3_PARTICIPATION_TYPE, *participation)]}],
                    "individual": reference("Practitioner", user.pk, person_name(user)),
                }
                for user, participation in context.practitioners(session)
            ],
            "appointment": [reference("Appointment", session.pk)],
            "period": {"start": instant(session.starts_at), "end": instant(session.ends_at)},
            "serviceProvider": reference("Organization", session.institution_id),
        }
    )


def _at(day: datetime.date, moment: datetime.time | None, zone) -> str | None:
    if moment is None:
        return None
    return instant(datetime.datetime.combine(day, moment, tzinfo=zone))


def member_encounter(record: AttendanceRecord, context: SessionContext) -> dict:
    session = record.session
    attended = record.status in AttendanceRecord.ATTENDED
    period = None
    if attended:
        zone = zoneinfo.ZoneInfo(context.zones.get(session.institution_id, "UTC"))
        day = context.local_date(session)
        period = {
            "start": _at(day, record.arrived_at, zone) or instant(session.starts_at),
            "end": _at(day, record.left_at, zone) or instant(session.ends_at),
        }
    return drop_empty(
        {
            "resourceType": "Encounter",
            "id": f"{session.pk}-{record.participant_id}",
            "meta": meta(record),
            "extension": [
                {
                    "url": ATTENDANCE_MARK_EXTENSION,
                    "valueCoding": coding(
                        ATTENDANCE_MARK_SYSTEM, record.status, record.get_status_display()
                    ),
                }
            ],
            "status": "finished" if attended else "cancelled",
            "class": encounter_class(session),
            "type": [
                {
                    "coding": [
                        coding(ENCOUNTER_TYPE_SYSTEM, "member-attendance", "Member's attendance")
                    ]
                }
            ],
            "subject": reference("Patient", record.participant_id),
            "period": period,
            "serviceProvider": reference("Organization", session.institution_id),
            "partOf": reference("Encounter", session.pk),
        }
    )


class EncounterType(ResourceType):
    name = "Encounter"
    documentation = (
        "Sessions that took place or were called off, and each marked member's attendance "
        f"(partOf the session; the mark in the extension {ATTENDANCE_MARK_EXTENSION}). "
        "For the clinical roles; every read is audited (attendance.viewed, attendance.listed)."
    )
    parameters = (
        SearchParameter(
            "patient",
            "reference",
            "http://hl7.org/fhir/SearchParameter/clinical-patient",
            "A participant's attendance Encounters.",
        ),
        SearchParameter(
            "subject",
            "reference",
            "http://hl7.org/fhir/SearchParameter/Encounter-subject",
            "Group/… finds the group's sessions, Patient/… a participant's attendance.",
        ),
        SearchParameter(
            "group",
            "reference",
            ENCOUNTER_GROUP_SEARCH_PARAMETER,
            "A Group's sessions and the attendance at them (Krąg's parameter).",
        ),
        SearchParameter(
            "part-of",
            "reference",
            "http://hl7.org/fhir/SearchParameter/Encounter-part-of",
            "The attendance Encounters of one session's Encounter.",
        ),
        SearchParameter(
            "date",
            "date",
            "http://hl7.org/fhir/SearchParameter/clinical-date",
            "When the session starts.",
        ),
        SearchParameter(
            "status",
            "token",
            "http://hl7.org/fhir/SearchParameter/Encounter-status",
            "finished or cancelled.",
        ),
    )

    def streams(self):
        sessions = self.scoped(
            Session.objects.filter(status__in=ENCOUNTER_SESSIONS).select_related(
                "institution", "substitute_facilitator"
            )
        )
        records = self.scoped(
            AttendanceRecord.objects.filter(session__status__in=ENCOUNTER_SESSIONS).select_related(
                "session", "institution"
            )
        )
        return [Stream(SESSIONS, sessions), Stream(MEMBERS, records)]

    def get(self, resource_id):
        sessions, records = self.streams()
        match = MEMBER_ID.match(resource_id)
        if match:
            row = records.queryset.filter(
                session_id=int(match[1]), participant_id=int(match[2])
            ).first()
            key = MEMBERS
        else:
            ids = numeric_ids([resource_id])
            row = sessions.queryset.filter(pk__in=ids).first() if ids else None
            key = SESSIONS
        if row is None:
            raise not_found(self.name, resource_id)
        return key, row

    def filter(self, key, queryset, name, values):
        if name == "_id":
            return self.filter_id(key, queryset, values)
        return super().filter(key, queryset, name, values)

    def filter_id(self, key, queryset, values):
        if key == SESSIONS:
            return queryset.filter(pk__in=numeric_ids(values))
        condition = Q(pk__in=[])
        for value in values:
            match = MEMBER_ID.match(value)
            if match:
                condition |= Q(session_id=int(match[1]), participant_id=int(match[2]))
        return queryset.filter(condition)

    def filter_patient(self, key, queryset, values):
        if key == SESSIONS:
            return None
        return queryset.filter(participant_id__in=numeric_ids(reference_ids(values, "Patient")))

    def filter_subject(self, key, queryset, values):
        if key == SESSIONS:
            return queryset.filter(group_id__in=numeric_ids(reference_ids(values, "Group")))
        return self.filter_patient(key, queryset, values)

    def filter_group(self, key, queryset, values):
        groups = numeric_ids(reference_ids(values, "Group"))
        if key == SESSIONS:
            return queryset.filter(group_id__in=groups)
        return queryset.filter(session__group_id__in=groups)

    def filter_part_of(self, key, queryset, values):
        if key == SESSIONS:
            return None
        return queryset.filter(session_id__in=numeric_ids(reference_ids(values, "Encounter")))

    def filter_date(self, key, queryset, values):
        field = "starts_at" if key == SESSIONS else "session__starts_at"
        return filter_date(queryset, field, values)

    def filter_status(self, key, queryset, values):
        codes = set(token_codes(values))
        if key == SESSIONS:
            statuses = (TOOK_PLACE if "finished" in codes else ()) + (
                CALLED_OFF if "cancelled" in codes else ()
            )
            return queryset.filter(status__in=statuses)
        attended = AttendanceRecord.ATTENDED
        condition = Q(pk__in=[])
        if "finished" in codes:
            condition |= Q(status__in=attended)
        if "cancelled" in codes:
            condition |= ~Q(status__in=attended)
        return queryset.filter(condition)

    def represent(self, rows):
        sessions = [row for key, row in rows if key == SESSIONS]
        records = [row for key, row in rows if key == MEMBERS]
        context = SessionContext(
            self.user, sessions + [r.session for r in records], with_members=False
        )
        return [
            session_encounter(row, context) if key == SESSIONS else member_encounter(row, context)
            for key, row in rows
        ]

    def audit_read(self, key, row):
        if key == SESSIONS:
            audit_record(
                actor=self.user, action="attendance.viewed", obj=row, details={"via": "fhir"}
            )
        else:
            audit_record(
                actor=self.user,
                action="attendance.viewed",
                obj=row,
                details={
                    "participant": row.participant_id,
                    "session": row.session_id,
                    "via": "fhir",
                },
            )

    def audit_page(self, rows):
        # One event per institution on the page, naming the sessions and the marks shown.
        shown: dict[int, list[tuple[str, object]]] = {}
        for key, row in rows:
            shown.setdefault(row.institution_id, []).append((key, row))
        for page in shown.values():
            records = [row for key, row in page if key == MEMBERS]
            details = listed_details(records)
            details.update(
                sessions=[row.pk for key, row in page if key == SESSIONS],
                participants=sorted({r.participant_id for r in records}),
                via="fhir",
            )
            audit_record(
                actor=self.user,
                action="attendance.listed",
                institution=page[0][1].institution,
                details=details,
            )
