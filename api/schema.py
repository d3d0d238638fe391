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
    target_class = "knox.auth.TokenAuthentication"
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


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: document the JSON errors every endpoint may answer with."""
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
