"""Errors as FHIR answers them: an OperationOutcome with an issue's severity, code and text.

Views raise FhirError (or Django's Http404 / PermissionDenied, or DRF's authentication errors,
which the base view translates); nothing else in the facade builds an error body.
"""

from django.utils.translation import gettext_lazy as _


class FhirError(Exception):
    """An answer other than 200, with the OperationOutcome issue that explains it.

    `code` is from FHIR's IssueType value set (http://hl7.org/fhir/issue-type), e.g.
    `not-found`, `not-supported`, `invalid`, `forbidden`, `login`.
    """

    def __init__(self, status: int, code: str, text, *, headers: dict | None = None):
        super().__init__(str(text))
        self.status = status
        self.code = code
        self.text = str(text)
        self.headers = headers or {}


def not_found(resource_type: str, resource_id: str) -> FhirError:
    # The same answer for a missing resource and another institution's (SPEC.md: 404, never 403).
    return FhirError(
        404,
        "not-found",
        _("%(type)s/%(id)s is not known.") % {"type": resource_type, "id": resource_id},
    )


def operation_outcome(code: str, text: str, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }
