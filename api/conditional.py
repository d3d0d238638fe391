"""Offline-tolerant writes: ETags, If-Match / If-None-Match and Idempotency-Key replay.

Mixed into the base viewset (api/views/base.py), so every resource behaves the same way.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .exceptions import Conflict, IdempotencyKeyReused, PreconditionFailed
from .models import IdempotencyKey

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
IDEMPOTENT_METHODS = ("POST", "PUT", "PATCH", "DELETE")
IDEMPOTENCY_HEADER = "Idempotency-Key"


def etag_for(data) -> str:
    """A strong ETag: a hash of the object's JSON representation."""
    digest = hashlib.sha256(JSONRenderer().render(data)).hexdigest()[:40]
    return f'"{digest}"'


def _tags(header: str, *, weak: bool) -> set[str]:
    """The entity tags of an If-Match (`weak=False`) or If-None-Match (`weak=True`) header.

    RFC 9110 13.1.1: If-Match compares strongly, so a weak tag (`W/"…"`) never matches; for
    If-None-Match the weak comparison applies and `W/` is ignored.
    """
    tags = set()
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            if not weak:
                continue
            tag = tag[2:]
        if tag:
            tags.add(tag)
    return tags


def check_if_match(request, current_etag: str) -> None:
    """A write that names the version it read (If-Match) is refused when that version is stale.

    Call it where the row is locked (a service's `precondition`): compared earlier, two writes
    carrying the same ETag could both pass."""
    header = request.headers.get("If-Match")
    if not header:
        return
    tags = _tags(header, weak=False)
    if "*" not in tags and current_etag not in tags:
        raise PreconditionFailed()


def fingerprint_of(request) -> str:
    """What makes two requests "the same": method, path and body (JSON compared by meaning)."""
    body = request.body or b""  # read before DRF parses the stream (see initial())
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n" + request.get_full_path().encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


class _Replay(Exception):
    def __init__(self, row: IdempotencyKey):
        self.row = row


class ConditionalRequestsMixin:
    """ETag on every object answer, 304 for a matching If-None-Match, and idempotent writes.

    A write with an Idempotency-Key runs in one transaction together with the claim of the key:
    a concurrent duplicate blocks on the key's unique constraint until the first commits, then
    replays its answer. Only successful answers are kept; a refused request wrote nothing, so
    resending it is simply tried again.
    """

    def dispatch(self, request, *args, **kwargs):
        if request.method in IDEMPOTENT_METHODS and request.headers.get(IDEMPOTENCY_HEADER):
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                if response.status_code >= 400 or getattr(self, "_idempotency_replayed", False):
                    transaction.set_rollback(True)
            return response
        return super().dispatch(request, *args, **kwargs)

    # Answers carrying a secret are kept encrypted (IdempotencyKey.sealed_body).
    idempotency_sealed = False

    def initial(self, request, *args, **kwargs):
        if request.headers.get(IDEMPOTENCY_HEADER):
            request.body  # noqa: B018  (kept for the fingerprint before the parser reads it)
        super().initial(request, *args, **kwargs)
        if request.user.is_authenticated:
            self.claim_idempotency_key(request, request.user)
        if request.method in IDEMPOTENT_METHODS:
            request.data  # noqa: B018  (malformed JSON is a 400 even where the body is unused)

    def claim_idempotency_key(self, request, user) -> None:
        """Claim the request's Idempotency-Key for `user`, or replay the first answer.

        Signing in knows its user only once the password was checked: it calls this itself."""
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key and request.method in IDEMPOTENT_METHODS:
            self._claim_idempotency_key(request, key, user)

    def _claim_idempotency_key(self, request, key: str, user) -> None:
        if len(key) > 255:
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: [_("Use at most 255 characters.")]}
            )
        fingerprint = fingerprint_of(request)
        try:
            with transaction.atomic():
                self._idempotency_row = IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            # A retried request carries the same Idempotency-Key: answer as the first time.
            row = IdempotencyKey.objects.filter(user=user, key=key).first()
            if row is None or row.status_code is None:
                raise Conflict(
                    _("A request with this Idempotency-Key is still in progress.")
                ) from None
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused() from None
            raise _Replay(row) from None

    def _location_of(self, data) -> str | None:
        """The address of what a 201 created: `<basename>-detail` of its id."""
        basename = getattr(self, "basename", None)
        if not basename or not isinstance(data.get("id"), int):
            return None
        try:
            path = reverse(f"{basename}-detail", args=[data["id"]])
        except NoReverseMatch:
            return None
        return self.request.build_absolute_uri(path)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            self._idempotency_replayed = True
            row = exc.row
            headers = {**row.response_headers, "Idempotent-Replayed": "true"}
            body = json.loads(row.sealed_body) if row.sealed_body else row.response_body
            return Response(body, status=row.status_code, headers=headers)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        is_object = isinstance(data, dict) and "results" not in data
        if is_object and 200 <= response.status_code < 300 and not response.has_header("ETag"):
            response["ETag"] = etag_for(data)
            if request.method == "GET" and request.headers.get("If-None-Match"):
                if response["ETag"] in _tags(request.headers["If-None-Match"], weak=True):
                    not_modified = Response(status=status.HTTP_304_NOT_MODIFIED)
                    not_modified["ETag"] = response["ETag"]
                    return super().finalize_response(request, not_modified, *args, **kwargs)
        if response.status_code == 201 and is_object and not response.has_header("Location"):
            location = self._location_of(data)
            if location:
                response["Location"] = location
        row = getattr(self, "_idempotency_row", None)
        if row is not None and 200 <= response.status_code < 300:
            row.status_code = response.status_code
            body = json.loads(JSONRenderer().render(data)) if data is not None else None
            if self.idempotency_sealed and body is not None:
                row.sealed_body = json.dumps(body)
            else:
                row.response_body = body
            row.response_headers = {
                name: response[name] for name in ("ETag", "Location") if response.has_header(name)
            }
            row.save(
                update_fields=["status_code", "response_body", "sealed_body", "response_headers"]
            )
        return response
