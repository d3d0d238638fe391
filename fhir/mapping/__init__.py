"""Krąg's rows as FHIR R4 resources, one module per resource type (docs/fhir.md maps every
element). Mappers build plain dicts; they read nothing the page's queries did not fetch."""
