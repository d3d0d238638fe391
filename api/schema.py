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
    "400": ("ValidationError", "Bad input: messages by field (or under non_field_errors)."),
    "401": ("Error", "Not signed in, or the token expired or was revoked."),
    "403": ("Error", "Your role in the institution does not allow this."),
    "404": ("Error", "No such object, or it belongs to another institution."),
    "409": ("Error", "A request with the same Idempotency-Key is still in progress."),
    "412": ("Error", "If-Match named a version that is no longer current."),
    "422": ("Error", "The Idempotency-Key was already used for a different request."),
    "429": ("Error", "Too many requests; retry after the number of seconds in Retry-After."),
}
IDEMPOTENT_METHODS = ("post", "put", "patch")

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

**Syncing.** Every list takes `updated_since` (rows changed at or after that moment), ordering
(`ordering=`) and pages (`page`, `page_size` from 1 to 200; anything else is 400). "My sessions
today" is `GET /api/v1/sessions/?mine=true&date=today`; this week's: `?mine=true&week=today`
(days are the institution's local days).

**Offline-tolerant writes.** Object answers carry an `ETag`; send it back as `If-Match` on a
`PUT`, `PATCH` or a domain verb (`POST …/{id}/cancel/`) and a stale one gets 412 with nothing
written. A `POST`/`PUT`/`PATCH` with an `Idempotency-Key` header is applied once: resending the
same key and body replays the first answer (header `Idempotent-Replayed: true`); the same key
with another body is 422. Keys are kept per user for 48 hours. A refused request (4xx) is not
kept, so a corrected retry runs.

**Errors** are JSON: `{"detail": "…"}`, or for bad input (400) messages by field, with
`non_field_errors` for the rest; a roster `PUT` names refused marks by participant id under
`marks`.

**Calendar.** `POST /api/v1/me/calendar/` gives a secret address of an iCalendar feed of your
sessions (no participant data), `DELETE` revokes it.
"""


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the API's conventions, and the JSON errors every endpoint may
    answer with."""
    result.setdefault("info", {})["description"] = API_DESCRIPTION
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    }
    schemas["ValidationError"] = {
        "type": "object",
        "description": "Field name (or `non_field_errors`, or a participant id in a roster) → "
        "messages.",
        "additionalProperties": {},
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code, (schema, description) in ERROR_RESPONSES.items():
                if code in ("409", "412", "422") and method not in IDEMPOTENT_METHODS:
                    continue
                if (
                    code == "400"
                    and method in ("get", "delete")
                    and not operation.get("parameters")
                ):
                    continue
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{schema}"}
                            }
                        },
                    },
                )
            if method in IDEMPOTENT_METHODS:
                params = operation.setdefault("parameters", [])
                names = {p.get("name") for p in params}
                if "Idempotency-Key" not in names:
                    params.append(
                        {
                            "in": "header",
                            "name": "Idempotency-Key",
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "Resending a request with the same key and body "
                            "replays the first answer instead of writing twice (kept 48 h).",
                        }
                    )
                if method in ("put", "patch") or "{id}" in path:
                    if "If-Match" not in names:
                        params.append(
                            {
                                "in": "header",
                                "name": "If-Match",
                                "schema": {"type": "string"},
                                "description": "The ETag you read; a stale one gets 412.",
                            }
                        )
    return result
