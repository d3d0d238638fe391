from pathlib import Path

from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "fhir"
    verbose_name = "FHIR R4"
    # The package path is extended (fhir/__init__.py), so Django is told where the app lives.
    path = str(Path(__file__).resolve().parent)
