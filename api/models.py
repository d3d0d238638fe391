"""What the API keeps for itself: replayable idempotent requests and calendar feed tokens."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clinics.fields import EncryptedTextField


class IdempotencyKey(models.Model):
    """The first successful answer to a POST/PUT/PATCH/DELETE sent with an `Idempotency-Key`.

    A mobile client on a bad connection resends the same request with the same key; the answer
    stored here is replayed instead of writing twice. The unique constraint is what makes two
    concurrent duplicates safe: the second insert waits for the first transaction and fails.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text=_("Hash of method, path and body."))
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    response_headers = models.JSONField(default=dict)
    # An answer that carries a secret (a sign-in token, a calendar address) is kept encrypted,
    # as JSON, instead of in `response_body`: a retried sign-in gets the same token back.
    sealed_body = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self):
        return f"{self.user_id}:{self.key}"


class CalendarFeedToken(models.Model):
    """A secret, revocable address of one user's calendar feed; only a hash of it is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    # The secret itself, encrypted, so `GET me/calendar/` can show the address again; the
    # feed is found by the digest.
    secret = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed token")
        verbose_name_plural = _("calendar feed tokens")

    def __str__(self):
        return f"calendar feed of {self.user_id}"

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()
