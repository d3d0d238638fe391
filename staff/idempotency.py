"""A retried POST of the staff UI is applied once.

The page's offline queue (staff/static/staff/offline.js) sends every mark and note it kept on
the phone with an `Idempotency-Key`; a connection that drops after the server wrote but before
the answer arrived makes it send the same request again. The first successful answer is kept
(in the API's table, `api.IdempotencyKey`: one key space per user) and replayed. As in the API
(api/conditional.py), the claim of the key and the write share one transaction: a concurrent
duplicate waits on the key's unique constraint until the first commits, then replays its
answer; a refused request keeps nothing, so sending it again simply tries again.
"""

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.utils.translation import gettext as _

from api.models import IdempotencyKey

HEADER = "Idempotency-Key"


def fingerprint_of(request) -> str:
    """Method, path and the form's fields (the CSRF token aside: it changes between tries)."""
    fields = sorted(
        (name, value)
        for name, values in request.POST.lists()
        if name != "csrfmiddlewaretoken"
        for value in values
    )
    digest = hashlib.sha256()
    digest.update(f"{request.method}\n{request.get_full_path()}\n".encode())
    digest.update(json.dumps(fields, ensure_ascii=False).encode())
    return digest.hexdigest()


def _replay(row: IdempotencyKey):
    body = row.response_body or {}
    if "location" in body:
        response = HttpResponseRedirect(body["location"])
    else:
        response = JsonResponse(body.get("json", {}), status=row.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def _kept(response) -> dict:
    if response.has_header("Location"):
        return {"location": response["Location"]}
    if response.get("Content-Type", "").startswith("application/json"):
        return {"json": json.loads(response.content)}
    return {"json": {}}


def idempotent(view):
    """Apply a POST that carries an Idempotency-Key once; replay the first answer after that."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER, "")
        if request.method != "POST" or not key or not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if len(key) > 255:
            return JsonResponse({"error": _("Use at most 255 characters.")}, status=400)
        fingerprint = fingerprint_of(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(
                        user=request.user, key=key, fingerprint=fingerprint
                    )
            except IntegrityError:
                # A retried request carries the same Idempotency-Key: answer as the first time.
                row = IdempotencyKey.objects.filter(user=request.user, key=key).first()
                if row is None or row.status_code is None:
                    return JsonResponse(
                        {"error": _("A request with this Idempotency-Key is still in progress.")},
                        status=409,
                    )
                if row.fingerprint != fingerprint:
                    return JsonResponse(
                        {"error": _("This Idempotency-Key was used for another request.")},
                        status=422,
                    )
                return _replay(row)
            response = view(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
                return response
            row.status_code = response.status_code
            row.response_body = _kept(response)
            row.save(update_fields=["status_code", "response_body"])
        return response

    return wrapper
