"""The CapabilityStatement: read from the resource types themselves, so it lists exactly the
interactions and search parameters the facade answers."""

from django.conf import settings

from .registry import RESOURCE_TYPES
from .search import MAX_COUNT

SOFTWARE_VERSION = "1.0"
# When what this statement lists last changed.
PUBLISHED = "2026-12-01"


def capability_statement(base_url: str) -> dict:
    resources = []
    for name, resource_type in RESOURCE_TYPES.items():
        resources.append(
            {
                "type": name,
                "profile": f"http://hl7.org/fhir/StructureDefinition/{name}",
                "documentation": resource_type.documentation,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False,
                "updateCreate": False,
                "conditionalCreate": False,
                "conditionalRead": "not-supported",
                "conditionalUpdate": False,
                "conditionalDelete": "not-supported",
                **(
                    {"searchInclude": list(resource_type.includes)}
                    if resource_type.includes
                    else {}
                ),
                "searchParam": [
                    {
                        "name": parameter.name,
                        "definition": parameter.definition,
                        "type": parameter.type,
                        "documentation": parameter.documentation,
                    }
                    for parameter in resource_type.search_parameters()
                ],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "Krąg",
        "kind": "instance",
        "software": {"name": "Krąg", "version": SOFTWARE_VERSION},
        "implementation": {
            "description": "Krąg's read-only FHIR R4 facade (docs/fhir.md)",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Sign in with the REST API's token (Authorization: Token …) or a "
                    "staff session. Searches page by _count (at most "
                    f"{MAX_COUNT}) with next links; unknown parameters are ignored unless the "
                    "request says Prefer: handling=strict. Codes and the attendance-mark "
                    f"extension live under {settings.FHIR_CANONICAL_BASE}."
                ),
                "security": {
                    "cors": False,
                    # No code of restful-security-service fits a bearer token of our own.
                    "description": "Token (the REST API's token, Authorization: Token …) or a "
                    "staff sign-in session.",
                },
                "resource": resources,
            }
        ],
    }
