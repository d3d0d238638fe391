"""One error shape for every API answer that is not a success (SPEC.md "The REST API").

    {"code": "invalid", "detail": "Check the fields marked.",
     "fields": {"page_size": [{"code": "invalid", "message": "Give a whole number …"}],
                "marks.17": [{"code": "invalid", "message": "This person is not on …"}]}}

`code` is stable and language-independent (a program reads it); `detail` and `message` are
translated (a person reads them). Nested errors are flattened to dotted paths, so `fields` is
one flat object a generated client can type. The schema component is `Error` (api/schema.py).

- django ValidationError (from the services) -> 400 with its messages by field;
- django PermissionDenied (a role refusal inside the user's own institution) -> 403;
- Http404 (anything of another institution, or missing) -> 404;
- IntegrityError (a concurrent duplicate that slipped past the services' checks) -> 409;
- a body too large -> 413; anything else unexpected -> 500 (api/middleware.py), same shape.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object has changed since you read it; fetch it again."
    default_code = "precondition_failed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for a different request."
    default_code = "idempotency_key_reused"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with another change; try again."
    default_code = "conflict"


class NoteExists(Conflict):
    """`POST notes/` for a session that has that note already: its id, and nothing changed."""

    default_detail = "This session already has this note; change it with PATCH and If-Match."
    default_code = "note_exists"

    def __init__(self, note_id):
        super().__init__()
        self.extra = {"id": note_id}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def error_body(code: str, detail: str, fields: dict | None = None, **extra) -> dict:
    body = {"code": code, "detail": detail, **extra}
    if fields:
        body["fields"] = fields
    return body


def _flatten(details, prefix: str, into: dict) -> None:
    """DRF's nested full details ({"field": [{"message", "code"}]}) as dotted paths."""
    if _is_leaf(details):
        into.setdefault(prefix or "non_field_errors", []).append(
            {"code": str(details["code"]), "message": str(details["message"])}
        )
    elif isinstance(details, dict):
        for key, value in details.items():
            _flatten(value, _join(prefix, key), into)
    elif isinstance(details, list):
        for index, value in enumerate(details):
            _flatten(value, prefix if _is_leaf(value) else _join(prefix, index), into)


def _is_leaf(details) -> bool:
    return isinstance(details, dict) and set(details) == {"message", "code"}


def _join(prefix: str, key) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def body_for(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields: dict = {}
        _flatten(exc.get_full_details(), "", fields)
        return error_body("invalid", _("Check the fields marked."), fields)
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    extra = getattr(exc, "extra", None) or {}
    return error_body(str(code), str(detail), **extra)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        message = str(exc) or _("Your role does not allow this.")
        exc = exceptions.PermissionDenied(detail=message)
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        response.data = body_for(exc)
    elif response is not None:  # Http404 / PermissionDenied turned into DRF's by the handler
        code = "not_found" if response.status_code == 404 else "permission_denied"
        response.data = error_body(code, str(response.data.get("detail", "")))
    return response
