"""Organization: an institution (the tenant)."""

from clinics.models import Institution

from ..search import Stream
from .base import ResourceType
from .common import INSTITUTION_KIND_SYSTEM, coding, drop_empty, meta

ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"


def organization(institution: Institution) -> dict:
    return drop_empty(
        {
            "resourceType": "Organization",
            "id": str(institution.pk),
            "meta": meta(institution),
            "active": True,
            "type": [
                {
                    "coding": [
                        coding(ORGANIZATION_TYPE, "prov", "Healthcare Provider"),
                        coding(
                            INSTITUTION_KIND_SYSTEM,
                            institution.kind,
                            institution.get_kind_display(),
                        ),
                    ]
                }
            ],
            "name": institution.name,
        }
    )


class OrganizationType(ResourceType):
    name = "Organization"
    documentation = "The institutions the user belongs to (one per tenant)."

    def streams(self):
        return [Stream("", self.scoped(Institution.objects.all()))]

    def represent(self, rows):
        return [organization(institution) for _key, institution in rows]
