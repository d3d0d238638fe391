"""What every mapper shares: the namespace of Krąg's own code systems and identifiers,
references, instants and meta."""

import datetime

from django.conf import settings

# The URI namespace of Krąg's own identifier systems, code systems and extension
# (FHIR_CANONICAL_BASE, README "Configuration"; docs/fhir.md lists every URI under it).
BASE = settings.FHIR_CANONICAL_BASE.rstrip("/")

ATTENDANCE_MARK_EXTENSION = f"{BASE}/StructureDefinition/attendance-mark"
ATTENDANCE_MARK_SYSTEM = f"{BASE}/CodeSystem/attendance-mark"
GROUP_CATEGORY_SYSTEM = f"{BASE}/CodeSystem/group-category"
GROUP_CHARACTERISTIC_SYSTEM = f"{BASE}/CodeSystem/group-characteristic"
CONSENT_PURPOSE_SYSTEM = f"{BASE}/CodeSystem/consent-purpose"
CANCELLED_BY_SYSTEM = f"{BASE}/CodeSystem/cancelled-by"
ENCOUNTER_TYPE_SYSTEM = f"{BASE}/CodeSystem/encounter-type"
PROFESSION_SYSTEM = f"{BASE}/CodeSystem/profession"
INSTITUTION_KIND_SYSTEM = f"{BASE}/CodeSystem/institution-kind"
GROUP_SEARCH_PARAMETER = f"{BASE}/SearchParameter/Appointment-group"
ENCOUNTER_GROUP_SEARCH_PARAMETER = f"{BASE}/SearchParameter/Encounter-group"

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
BCP47 = "urn:ietf:bcp:47"


def participant_code_system(institution_id: int) -> str:
    """The system of participants' pseudonymous codes: one per institution, since every
    institution numbers its participants from P-00001."""
    return f"{BASE}/sid/institution/{institution_id}/participant-code"


def institution_of_code_system(system: str) -> int | None:
    """The institution whose participant-code system `system` is, or None."""
    prefix, suffix = f"{BASE}/sid/institution/", "/participant-code"
    if system.startswith(prefix) and system.endswith(suffix):
        middle = system[len(prefix) : -len(suffix)]
        if middle.isdigit():
            return int(middle)
    return None


def reference(resource_type: str, resource_id, display: str = "") -> dict:
    ref = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def instant(value: datetime.datetime | None) -> str | None:
    """An aware datetime as a FHIR instant, in UTC to the millisecond (what `_lastUpdated`
    compares against: a value read from meta.lastUpdated finds exactly its own second)."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def meta(obj) -> dict:
    return {"lastUpdated": instant(obj.updated_at)}


def coding(system: str, code: str, display: str = "") -> dict:
    result = {"system": system, "code": code}
    if display:
        result["display"] = str(display)
    return result


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def drop_empty(resource: dict) -> dict:
    """FHIR forbids empty elements: leave out keys whose value is None, "" or []."""
    return {key: value for key, value in resource.items() if value not in (None, "", [], {})}
