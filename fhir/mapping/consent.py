"""Consent: one grant of consent for one purpose, with its period and, for disclosure, the
recipient. Never changed in Krąg, so a withdrawal shows as status inactive with the period's
end, and a new grant is another Consent."""

from django.db.models import Q

from attendance.models import Consent
from audit.services import audit_record, listed_details

from ..search import Stream, filter_date, numeric_ids, reference_ids, token_codes
from .base import ResourceType, SearchParameter
from .common import (
    CONSENT_PURPOSE_SYSTEM,
    V3_ACT_CODE,
    coding,
    drop_empty,
    instant,
    meta,
    reference,
)

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
V3_ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

Purpose = Consent.Purpose
# R4's consent scopes: treatment (taking part), research, and privacy for everything about
# what is done with the person's data.
SCOPE = {
    Purpose.PARTICIPATION: ("treatment", "Treatment"),
    Purpose.HEALTH_DATA: ("patient-privacy", "Privacy Consent"),
    Purpose.CONTACT: ("patient-privacy", "Privacy Consent"),
    Purpose.DISCLOSURE: ("patient-privacy", "Privacy Consent"),
    Purpose.RECORDING: ("patient-privacy", "Privacy Consent"),
    Purpose.RESEARCH: ("research", "Research"),
}


def is_active(consent: Consent) -> bool:
    """Granted and in force now: not withdrawn, not past its expiry (attendance's rule)."""
    return consent.status == Consent.Status.GRANTED and consent.is_active_at()


def provision(consent: Consent) -> dict:
    ends = [moment for moment in (consent.withdrawn_at, consent.expires_at) if moment]
    result = {
        "type": "permit",
        "period": drop_empty(
            {"start": instant(consent.granted_at), "end": instant(min(ends)) if ends else None}
        ),
    }
    if consent.purpose == Purpose.DISCLOSURE and consent.recipient:
        result["actor"] = [
            {
                "role": {"coding": [coding(V3_ROLE_CLASS, "IRCP", "information recipient")]},
                "reference": {"display": consent.recipient},
            }
        ]
    if consent.group_id:
        # A participation consent for one group's rules: the group it is about.
        result["data"] = [{"meaning": "related", "reference": reference("Group", consent.group_id)}]
    return result


def consent_resource(consent: Consent) -> dict:
    scope_code, scope_display = SCOPE[consent.purpose]
    return drop_empty(
        {
            "resourceType": "Consent",
            "id": str(consent.pk),
            "meta": meta(consent),
            "status": "active" if is_active(consent) else "inactive",
            "scope": {"coding": [coding(CONSENT_SCOPE, scope_code, scope_display)]},
            "category": [
                {"coding": [coding(LOINC, "59284-0", "Patient Consent")]},
                {
                    "coding": [
                        coding(
                            CONSENT_PURPOSE_SYSTEM,
                            consent.purpose,
                            consent.get_purpose_display(),
                        )
                    ]
                },
            ],
            "patient": reference("Patient", consent.participant_id),
            "dateTime": instant(consent.granted_at),
            # The person who agreed; the staff member who recorded it is in the audit log.
            "performer": [reference("Patient", consent.participant_id)],
            "organization": [reference("Organization", consent.institution_id)],
            # The exact text agreed to, by its version (the text itself stays in Krąg).
            "sourceAttachment": {
                "title": f"{consent.get_purpose_display()} — {consent.text_version}",
            },
            "policyRule": {"coding": [coding(V3_ACT_CODE, "OPTIN", "opt-in")]},
            "provision": provision(consent),
        }
    )


class ConsentType(ResourceType):
    name = "Consent"
    documentation = (
        "Consent records, for the clinical roles; every read is audited (consent.viewed, "
        "and consent.listed for each page)."
    )
    parameters = (
        SearchParameter(
            "patient",
            "reference",
            "http://hl7.org/fhir/SearchParameter/clinical-patient",
            "The participant's consents.",
        ),
        SearchParameter(
            "status",
            "token",
            "http://hl7.org/fhir/SearchParameter/Consent-status",
            "active (granted and in force now) or inactive (withdrawn or expired).",
        ),
        SearchParameter(
            "date",
            "date",
            "http://hl7.org/fhir/SearchParameter/clinical-date",
            "When the consent was given (Consent.dateTime).",
        ),
    )

    def streams(self):
        return [Stream("", self.scoped(Consent.objects.select_related("institution")))]

    def filter_patient(self, key, queryset, values):
        return queryset.filter(participant_id__in=numeric_ids(reference_ids(values, "Patient")))

    def filter_date(self, key, queryset, values):
        return filter_date(queryset, "granted_at", values)

    def filter_status(self, key, queryset, values):
        codes = set(token_codes(values))
        in_force = Consent.objects.active().filter(status=Consent.Status.GRANTED).values("pk")
        condition = Q(pk__in=[])
        if "active" in codes:
            condition |= Q(pk__in=in_force)
        if "inactive" in codes:
            condition |= ~Q(pk__in=in_force)
        return queryset.filter(condition)

    def represent(self, rows):
        return [consent_resource(consent) for _key, consent in rows]

    def audit_read(self, key, row):
        audit_record(
            actor=self.user,
            action="consent.viewed",
            obj=row,
            details={"participant": row.participant_id, "via": "fhir"},
        )

    def audit_page(self, rows):
        shown: dict[int, list[Consent]] = {}
        for _key, consent in rows:
            shown.setdefault(consent.institution_id, []).append(consent)
        for consents in shown.values():
            audit_record(
                actor=self.user,
                action="consent.listed",
                institution=consents[0].institution,
                details={
                    **listed_details(consents),
                    "participants": sorted({c.participant_id for c in consents}),
                    "via": "fhir",
                },
            )
