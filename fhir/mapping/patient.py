"""Patient: a participant, identified by the pseudonymous code of their institution.

The legal name (and the year of birth) appear only where reports.privacy names the person to
this reader (role and health-data consent, the rule of every report); the alias is always
there, marked as a nickname. Contact data never leaves through FHIR (docs/fhir.md).
"""

from django.db.models import Q

from audit.services import audit_record, listed_details
from clinics.models import Participant
from reports.privacy import named_participant_ids

from ..search import Stream
from .base import ResourceType, SearchParameter
from .common import (
    BCP47,
    coding,
    drop_empty,
    institution_of_code_system,
    meta,
    participant_code_system,
    reference,
)


def patient(participant: Participant, *, named: bool) -> dict:
    names = []
    if named and participant.legal_name and not participant.is_erased:
        names.append({"use": "official", "text": participant.legal_name})
    if participant.alias and not participant.is_erased:
        names.append({"use": "nickname", "text": participant.alias})
    communication = []
    if participant.language:
        communication.append(
            {
                "language": {"coding": [coding(BCP47, participant.language)]},
                "preferred": True,
            }
        )
    return drop_empty(
        {
            "resourceType": "Patient",
            "id": str(participant.pk),
            "meta": meta(participant),
            "identifier": [
                {
                    "use": "usual",
                    "system": participant_code_system(participant.institution_id),
                    "value": participant.code,
                }
            ],
            "active": not participant.is_erased,
            "name": names,
            "birthDate": str(participant.birth_year)
            if named and participant.birth_year and not participant.is_erased
            else None,
            "communication": communication,
            "managingOrganization": reference("Organization", participant.institution_id),
        }
    )


class PatientType(ResourceType):
    name = "Patient"
    documentation = (
        "Participants, for the clinical roles (admin, facilitator, staff); every read is "
        "audited (participant.viewed, and participant.listed for each page)."
    )
    parameters = (
        SearchParameter(
            "identifier",
            "token",
            "http://hl7.org/fhir/SearchParameter/Patient-identifier",
            "The pseudonymous code, e.g. P-00042 (system|code or the code alone).",
        ),
    )

    def streams(self):
        return [Stream("", self.scoped(Participant.objects.select_related("institution")))]

    def filter_identifier(self, key, queryset, values):
        condition = Q(pk__in=[])
        for value in values:
            system, bar, code = value.rpartition("|")
            match = Q(code__iexact=code)
            if bar and system:
                institution_id = institution_of_code_system(system)
                if institution_id is None:
                    continue  # another system's identifier names none of ours
                match &= Q(institution_id=institution_id)
            condition |= match
        return queryset.filter(condition)

    def represent(self, rows):
        participants = [participant for _key, participant in rows]
        named = named_participant_ids(user=self.user, participants=participants)
        return [patient(p, named=p.pk in named) for p in participants]

    def audit_read(self, key, row):
        audit_record(actor=self.user, action="participant.viewed", obj=row, details={"via": "fhir"})

    def audit_page(self, rows):
        # As the API's participant list: one event per institution on the page, naming everyone.
        shown: dict[int, list[Participant]] = {}
        for _key, participant in rows:
            shown.setdefault(participant.institution_id, []).append(participant)
        for participants in shown.values():
            audit_record(
                actor=self.user,
                action="participant.listed",
                institution=participants[0].institution,
                details={**listed_details(participants), "via": "fhir"},
            )
