"""The HTTP side of the facade: metadata, read and search-type for every resource type,
everything else refused — each answer FHIR JSON, each error an OperationOutcome.

Sign-in is the REST API's (a knox token, `Authorization: Token …`, or a staff session) and so
is scoping: every row comes through the resource type's `for_user` querysets, so another
institution's resource is a 404 and never in a search.
"""

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clinics.querysets import forget_memberships

from .capability import capability_statement
from .outcome import FhirError, operation_outcome
from .registry import RESOURCE_TYPES
from .search import JSON_FORMATS, query_string, read_page, read_query

FHIR_JSON = "application/fhir+json"


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"


class FhirOnly(BaseContentNegotiation):
    """Every answer is FHIR JSON, whatever the Accept header (`_format` is checked in search:
    asking for XML is a 406 there)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _is_strict(request) -> bool:
    """`Prefer: handling=strict` (FHIR search): refuse unknown parameters instead of ignoring."""
    preferences = request.headers.get("Prefer", "").replace(";", ",").split(",")
    return any(p.strip().replace(" ", "") == "handling=strict" for p in preferences)


class FhirView(APIView):
    renderer_classes = [FhirJSONRenderer]
    content_negotiation_class = FhirOnly
    permission_classes = [IsAuthenticated]
    # Read-only: the API's throttle counts writes, and there are none.
    throttle_classes: list = []
    # OPTIONS is not a FHIR interaction: 405 like every other method but GET.
    metadata_class = None
    # Not part of the REST API's OpenAPI schema: FHIR describes itself (GET metadata).
    schema = None

    def initial(self, request, *args, **kwargs):
        forget_memberships(request.user)
        fmt = request.query_params.get("_format")
        if fmt is not None and fmt not in JSON_FORMATS:
            raise FhirError(406, "not-supported", _("Only JSON is served (_format=json)."))
        super().initial(request, *args, **kwargs)

    def base_url(self) -> str:
        return self.request.build_absolute_uri(reverse("fhir:base"))

    def resource_type(self, name: str):
        resource_type = RESOURCE_TYPES.get(name)
        if resource_type is None:
            raise FhirError(
                404,
                "not-supported",
                _("The resource type “%(type)s” is not served here.") % {"type": name},
            )
        return resource_type(self.request)

    def handle_exception(self, exc):
        if isinstance(exc, FhirError):
            error = exc
        elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            header = self.get_authenticate_header(self.request)
            error = FhirError(
                401, "login", exc.detail, headers={"WWW-Authenticate": header} if header else {}
            )
        elif isinstance(exc, exceptions.MethodNotAllowed):
            error = FhirError(405, "not-supported", _("This FHIR server is read-only."))
        elif isinstance(exc, Http404):
            error = FhirError(404, "not-found", _("Not found."))
        elif isinstance(exc, PermissionDenied | exceptions.PermissionDenied):
            error = FhirError(403, "forbidden", str(exc) or _("Your role does not allow this."))
        elif isinstance(exc, exceptions.APIException):
            error = FhirError(exc.status_code, "processing", exc.detail)
        else:
            return super().handle_exception(exc)
        response = Response(operation_outcome(error.code, error.text), status=error.status)
        for name, value in error.headers.items():
            response[name] = value
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Participants' records: never kept by a browser or a proxy (SPEC.md, the API's rule).
        response["Cache-Control"] = "no-store"
        return response


class MetadataView(FhirView):
    """GET metadata: the CapabilityStatement. Open without sign-in, as FHIR clients expect to
    read it before they authenticate; it names no data."""

    permission_classes: list = []
    authentication_classes: list = []

    def get(self, request):
        return Response(capability_statement(self.base_url()))


class SearchView(FhirView):
    """GET [type]?…: a searchset Bundle of one page, with self and next links."""

    def get(self, request, resource_type):
        resources = self.resource_type(resource_type)
        query = read_query(
            request.query_params,
            resources.supported(),
            strict=_is_strict(request),
            includes=resources.includes,
        )
        rows, next_cursor = read_page(resources.search(query), query)
        entries = [(resource, "match") for resource in resources.represent(rows)]
        resources.audit_page(rows)
        entries += [(resource, "include") for resource in resources.included(query, rows)]
        base = self.base_url()
        link_base = request.build_absolute_uri(request.path)
        params = query_string(query)
        links = [{"relation": "self", "url": _url(link_base, params + _cursor_param(query))}]
        if next_cursor:
            links.append(
                {"relation": "next", "url": _url(link_base, params + [("_cursor", next_cursor)])}
            )
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{base}{entry['resourceType']}/{entry['id']}",
                    "resource": entry,
                    "search": {"mode": mode},
                }
                for entry, mode in entries
            ],
        }
        if not bundle["entry"]:
            del bundle["entry"]
        return Response(bundle)


class ReadView(FhirView):
    """GET [type]/[id]: one resource, or a 404 OperationOutcome — also for another
    institution's, exactly as for one that does not exist."""

    def get(self, request, resource_type, resource_id):
        resources = self.resource_type(resource_type)
        key, row = resources.get(resource_id)
        (resource,) = resources.represent([(key, row)])
        resources.audit_read(key, row)
        return Response(resource)


class UnknownView(FhirView):
    """Any other address under /fhir/r4/: a FHIR 404, not the staff UI's page."""

    permission_classes: list = []

    def get(self, request, rest=""):
        raise FhirError(404, "not-supported", _("This FHIR interaction is not supported."))


def _cursor_param(query) -> list[tuple[str, str]]:
    if query.cursor is None:
        return []
    stream, after = query.cursor
    return [("_cursor", f"{stream}{after}")]


def _url(base: str, params: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(params)}" if params else base
