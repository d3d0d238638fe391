"""OpenAPI details the generator cannot guess: brief nested objects, errors, the auth scheme."""

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes


class BriefRelatedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.common.BriefRelatedField"

    def map_serializer_field(self, auto_schema, direction):
        nullable = {"nullable": True} if self.target.allow_null else {}
        if direction == "request":
            return {
                **build_basic_type(OpenApiTypes.INT),
                "description": "The object's id.",
                **nullable,
            }
        from .serializers.common import BriefSerializer

        ref = auto_schema.resolve_serializer(BriefSerializer, direction).ref
        return {"allOf": [ref], **nullable} if nullable else ref


class KnoxTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A token from `POST /api/v1/auth/token/`, sent as "Token <token>".',
        }


ERROR_RESPONSES = {
    "400": "Bad input: `fields` names each field's problems (code and message).",
    "401": "Not signed in, or the token expired or was revoked.",
    "403": "Your role in the institution does not allow this.",
    "404": "No such object, or it belongs to another institution.",
    "409": "A request with the same Idempotency-Key is still in progress, or (notes) the note "
    "exists: `id` names it.",
    "410": "The sync token is unknown, altered or expired: start over with `sync=start`.",
    "412": "If-Match named a version that is no longer current.",
    "413": "The request body is over the limit (1 MiB).",
    "415": "Send JSON.",
    "422": "The Idempotency-Key was already used for a different request.",
    "429": "Too many requests; retry after the number of seconds in Retry-After.",
    "500": "A server error; `request_id` identifies it in the logs.",
}
UNSAFE = ("post", "put", "patch", "delete")
SYNCED = {
    "/api/v1/institutions/",
    "/api/v1/sites/",
    "/api/v1/rooms/",
    "/api/v1/groups/",
    "/api/v1/sessions/",
    "/api/v1/participants/",
    "/api/v1/enrollments/",
    "/api/v1/consents/",
    "/api/v1/attendance/",
    "/api/v1/notes/",
}


def _header(description, schema=None):
    return {"schema": schema or {"type": "string"}, "description": description}


HEADERS = {
    "X-Request-ID": _header("Yours if you sent a plain one, else a new one; in every log line."),
    "Cache-Control": _header("`no-store`: answers hold personal data."),
    "ETag": _header("A strong tag of this representation; send it back as If-Match."),
    "Location": _header("The address of the object created."),
    "Idempotent-Replayed": _header("`true` when this is the stored answer to a retry."),
    "Retry-After": _header("Seconds to wait before trying again.", {"type": "integer"}),
}
ERROR_SCHEMAS = {
    "Error": {
        "type": "object",
        "description": "Every error answer. Program against `code` (stable, language-independent);"
        " show `detail` and the fields' `message` (translated).",
        "properties": {
            "code": {"type": "string", "example": "invalid"},
            "detail": {"type": "string"},
            "fields": {
                "type": "object",
                "description": "Field path (dotted for nested input: `marks.17`, "
                "`parameters.group`; `non_field_errors` for the whole) → its errors.",
                "additionalProperties": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/FieldError"},
                },
            },
            "id": {
                "type": "integer",
                "nullable": True,
                "description": "409 note_exists: the note.",
            },
            "request_id": {"type": "string", "description": "500: the request's id."},
        },
        "required": ["code", "detail"],
    },
    "FieldError": {
        "type": "object",
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        "required": ["code", "message"],
    },
    "SyncRemoved": {
        "type": "object",
        "description": "A row that left your view since the token: delete it from the copy.",
        "properties": {"id": {"type": "integer"}, "removed": {"type": "boolean", "enum": [True]}},
        "required": ["id", "removed"],
    },
}
SYNC_PARAMETERS = [
    {
        "in": "query",
        "name": "sync",
        "schema": {"type": "string", "enum": ["start"]},
        "description": "Begin a full copy by cursor pages; the last page carries `sync_token`.",
    },
    {
        "in": "query",
        "name": "sync_token",
        "schema": {"type": "string"},
        "description": "What changed since the token (filters come from the token); removals "
        "as `{id, removed: true}`. Unknown, altered or expired: 410.",
    },
    {
        "in": "query",
        "name": "cursor",
        "schema": {"type": "string"},
        "description": "Opaque; follow `next` rather than building it.",
    },
]
REPORT_PARAMETERS = {
    "sign_in_sheet": {"session": "integer"},
    "group_register": {"group": "integer", "start": "date", "end": "date"},
    "activity_summary": {"institution": "integer", "start": "date", "end": "date"},
    "attendance_certificate": {
        "participant": "integer",
        "group": "integer",
        "recipient": "string",
        "start": "date",
        "end": "date",
    },
    "participant_export": {"participant": "integer"},
}


def _report_parameter_schemas() -> dict:
    schemas = {}
    for report_type, fields in REPORT_PARAMETERS.items():
        properties = {
            name: {"type": "string", "format": "date"} if kind == "date" else {"type": kind}
            for name, kind in fields.items()
        }
        name = "".join(part.capitalize() for part in report_type.split("_")) + "Parameters"
        schemas[name] = {
            "type": "object",
            "description": f"The parameters of a `{report_type}` report.",
            "properties": properties,
            "required": list(fields),
            "additionalProperties": False,
        }
    return schemas


API_DESCRIPTION = """The REST API of Krąg, the back office for professionally led support groups.

**Signing in.** `POST /api/v1/auth/token/` with `username` and `password` answers a token; send
it as `Authorization: Token <token>`. Tokens are stored hashed, expire (14 days by default) and
`POST /api/v1/auth/logout/` revokes the token of that request. Sign-in attempts and writes are
throttled (429 with `Retry-After`).

**What you see.** Only the institutions you belong to: another institution's object answers
404, exactly like a missing one. Participants, enrollments, consents and attendance are for the
clinical roles (admin, facilitator, staff); for an auditor those lists are empty and their
details 404, and a session's roster is 403. Session notes are for the facilitators of that group
(private notes for their author). Participants are shown by alias (`display`).

**Browsing** lists: filters, `ordering=`, pages (`page`, `page_size` 1–200). "My sessions today"
is `GET /api/v1/sessions/?mine=true&date=today`; this week's: `?mine=true&week=today`.

**Syncing** (docs/sync.md): `?sync=start` copies a list by cursor pages (`next`); the last page
carries `sync_token`; `?sync_token=` answers what changed since, with rows that left your view
as `{"id": …, "removed": true}`. No change is ever skipped; a row may come twice.

**Offline-tolerant writes.** Object answers carry a strong `ETag`; send it back as `If-Match` on
`PUT`, `PATCH`, the roster `PUT` or a domain verb and a stale one gets 412 with nothing written
(weak tags never match). Every `POST`/`PUT`/`PATCH`/`DELETE` takes an `Idempotency-Key`:
resending the same key and body replays the first answer (`Idempotent-Replayed: true`); another
body is 422. Keys are kept per user for 48 hours. `POST notes/` on an existing note is 409 with
its `id`.

**Errors** are JSON of one shape, `Error`: a stable `code`, a translated `detail`, and `fields`
(dotted paths → `[{code, message}]`). Every answer carries `X-Request-ID`; API answers say
`Cache-Control: no-store`.

**Calendar.** `GET /api/v1/me/calendar/` shows the secret address of your iCalendar feed (no
participant data), `POST` makes a new one, `DELETE` revokes it.
"""


def _error_response(description):
    return {
        "description": description,
        "headers": {"X-Request-ID": HEADERS["X-Request-ID"]},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _add_parameter(operation, parameter):
    params = operation.setdefault("parameters", [])
    if parameter["name"] not in {p.get("name") for p in params}:
        params.append(parameter)


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the API's conventions — one error component on every operation,
    the headers each answer carries, sync, and the true shapes drf-spectacular cannot guess."""
    result.setdefault("info", {})["description"] = API_DESCRIPTION
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("ValidationError", None)
    schemas.update(ERROR_SCHEMAS)
    schemas.update(_report_parameter_schemas())
    _type_report_parameters(schemas)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            _conventions(path, method, operation, schemas)
    return result


def _type_report_parameters(schemas):
    one_of = [
        {"$ref": f"#/components/schemas/{name}"}
        for name in schemas
        if name.endswith("Parameters") and name[0].isupper() and name != "ReportParameters"
    ]
    for name in ("ReportRequestRequest", "ReportRequest"):
        if name in schemas and "parameters" in schemas[name].get("properties", {}):
            schemas[name]["properties"]["parameters"] = {
                "oneOf": one_of,
                "description": "The parameters of the report `type` (one of these shapes).",
            }


def _conventions(path, method, operation, schemas):
    responses = operation.setdefault("responses", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") in ("id", "pk"):
            parameter["schema"] = {"type": "integer"}  # lookup_value_regex: digits only
    if path.endswith("/schedule/") and method == "post":
        # It answers the sessions it made, a plain list (no page).
        responses["201"]["content"]["application/json"]["schema"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Session"},
        }
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-ID", HEADERS["X-Request-ID"])
        if not path.startswith(("/api/v1/schema/", "/api/v1/docs/", "/api/v1/calendar/")):
            headers.setdefault("Cache-Control", HEADERS["Cache-Control"])
        if code.startswith("2") and method in UNSAFE:
            headers.setdefault("Idempotent-Replayed", HEADERS["Idempotent-Replayed"])
        if code == "201":
            headers.setdefault("Location", HEADERS["Location"])
        if code in ("200", "201") and "{id}" in path and _is_object(response, schemas):
            headers.setdefault("ETag", HEADERS["ETag"])
    for code, description in ERROR_RESPONSES.items():
        if code in ("409", "412", "413", "415", "422") and method not in UNSAFE:
            continue
        if code == "410" and not (path in SYNCED and method == "get"):
            continue
        if code == "400" and method in ("get", "delete") and not operation.get("parameters"):
            continue
        responses.setdefault(code, _error_response(description))
    responses["429"]["headers"]["Retry-After"] = HEADERS["Retry-After"]
    if method in UNSAFE:
        _add_parameter(
            operation,
            {
                "in": "header",
                "name": "Idempotency-Key",
                "schema": {"type": "string", "maxLength": 255},
                "description": "Resending a request with the same key and body replays the first "
                "answer instead of writing twice (kept 48 h).",
            },
        )
        if method in ("put", "patch") or "{id}" in path:
            _add_parameter(
                operation,
                {
                    "in": "header",
                    "name": "If-Match",
                    "schema": {"type": "string"},
                    "description": "The ETag you read (strong); a stale one gets 412.",
                },
            )
    if method == "get" and "{id}" in path and "200" in responses:
        _add_parameter(
            operation,
            {
                "in": "header",
                "name": "If-None-Match",
                "schema": {"type": "string"},
                "description": "The ETag of your copy: 304 when it is still current.",
            },
        )
        responses.setdefault(
            "304",
            {
                "description": "Your copy is current.",
                "headers": {"ETag": HEADERS["ETag"], "X-Request-ID": HEADERS["X-Request-ID"]},
            },
        )
    if method == "get" and path in SYNCED:
        for parameter in SYNC_PARAMETERS:
            _add_parameter(operation, parameter)
        page = responses["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        _syncable_page(schemas[page])


def _is_object(response, schemas) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    return bool(ref) and "results" not in schemas.get(ref.split("/")[-1], {}).get("properties", {})


def _syncable_page(page: dict) -> None:
    """A list page serves browsing (count, previous) and sync (sync_token, removals) alike."""
    properties = page["properties"]
    page["required"] = ["next", "results"]
    items = properties["results"]["items"]
    if "anyOf" not in items:
        properties["results"]["items"] = {
            "anyOf": [items, {"$ref": "#/components/schemas/SyncRemoved"}]
        }
    properties["sync_token"] = {
        "type": "string",
        "description": "On a sync's last page: the token of the next sync.",
    }
