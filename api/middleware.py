"""Every API answer that is an error is JSON; no API answer is kept by a cache.

Django answers some requests before a view runs (no such URL, a body too large, a method a
plain view lacks, an exception in a middleware) with an HTML page; for `/api/` those become
the API's error shape (api/exceptions.py), so a program never has to parse HTML.
"""

import json
import logging

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

from .exceptions import error_body
from .request_id import API_PREFIX

logger = logging.getLogger("api.requests")
# What holds no personal data and may be cached: the schema and its browsable docs.
PUBLIC = ("/api/v1/schema/", "/api/v1/docs/")
CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Sign in first."),
    429: ("throttled", "Too many requests; try again later."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "There is no such address or object."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send JSON (Content-Type: application/json)."),
    500: ("server_error", "Something went wrong on our side; it has been logged."),
}


def _error(status: int, request) -> JsonResponse:
    code, detail = CODES.get(status, ("error", "The request failed."))
    body = error_body(code, _(detail), request_id=getattr(request, "request_id", None))
    return JsonResponse(body, status=status)


class APIErrorsMiddleware:
    """JSON errors for `/api/`, a body limit, and a JSON 500 for anything unexpected."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.API_MAX_BODY_BYTES
        if request.path.startswith(f"{API_PREFIX}v1/imports/") and request.method == "POST":
            # A spreadsheet upload: its own limit (imports.services), plus the multipart frame.
            limit = max(limit, settings.IMPORT_MAX_BYTES + 64 * 1024)
        if length.isdigit() and int(length) > limit:
            return _error(413, request)
        response = self.get_response(request)
        if not response.has_header("Cache-Control") and not request.path.startswith(PUBLIC):
            # Participants, rosters, notes, exports, PDFs: no cache keeps a copy.
            response["Cache-Control"] = "no-store"
        if response.status_code < 400 or getattr(response, "streaming", False):
            return response
        body = _json_of(response)
        if isinstance(body, dict) and "code" in body:
            return response
        error = _error(response.status_code, request)
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            # JSON of another part (sign-in lockout, two-factor): its message, with a code.
            error = JsonResponse(
                {**json.loads(error.content), "detail": body["detail"]}, status=response.status_code
            )
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if response.has_header(name):
                error[name] = response[name]
        return error

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        return _error(500, request)


def _json_of(response):
    if not response.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None
