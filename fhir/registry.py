"""The resource types the facade serves, by FHIR name (the URL's first segment)."""

from .mapping.appointment import AppointmentType
from .mapping.consent import ConsentType
from .mapping.encounter import EncounterType
from .mapping.group import GroupType
from .mapping.organization import OrganizationType
from .mapping.patient import PatientType
from .mapping.practitioner import PractitionerType

RESOURCE_TYPES = {
    resource_type.name: resource_type
    for resource_type in (
        AppointmentType,
        ConsentType,
        EncounterType,
        GroupType,
        OrganizationType,
        PatientType,
        PractitionerType,
    )
}
