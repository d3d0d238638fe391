"""Sending SMS through a small, pluggable backend.

The backend is named by the `SMS_BACKEND` setting (a dotted path). The default,
`LoggingSMSBackend`, only writes the message to the log, so nothing leaves the machine until
an operator plugs in a provider. To plug one, subclass `SMSBackend`, implement `send()`, and
set `SMS_BACKEND=yourpackage.sms.ProviderBackend`:

    class ProviderBackend(SMSBackend):
        def send(self, *, to: str, text: str, reference: str = "") -> None:
            payload = {"to": to, "text": text, "client_reference": reference}
            try:
                response = requests.post(URL, json=payload, timeout=10)
            except requests.RequestException as exc:
                raise SMSTemporaryError(str(exc)) from exc  # retried with backoff
            if response.status_code >= 500:
                raise SMSTemporaryError(response.text)
            if response.status_code >= 400:
                raise SMSError(response.text)  # permanent: the message is marked failed

Raise `SMSTemporaryError` (or ConnectionError / TimeoutError) for what is worth retrying and
`SMSError` for what is not. `reference` is the same on every resend of one message: hand it to
the provider as its client reference (or idempotency key) so a resend after a worker died
mid-send is recognisable, or dropped, as a duplicate.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSError(Exception):
    """The provider refused the message for good (bad number, rejected content)."""


class SMSTemporaryError(SMSError):
    """The provider could not be reached or asked to try later: worth a retry."""


class SMSBackend:
    """The interface every SMS backend implements."""

    def send(self, *, to: str, text: str, reference: str = "") -> None:
        raise NotImplementedError


def mask_number(number: str) -> str:
    """A phone number as logs may show it: the last three digits only."""
    digits = [c for c in number if c.isdigit()]
    return "*" * max(len(digits) - 3, 0) + "".join(digits[-3:])


class LoggingSMSBackend(SMSBackend):
    """Writes that an SMS would go out to the log instead of sending it (the default).

    Logs are read by more people than the register and kept elsewhere: neither the number nor
    the text is written, only the last digits, the length and the reference.
    """

    def send(self, *, to: str, text: str, reference: str = "") -> None:
        logger.info(
            "SMS to %s (%d characters), reference %s", mask_number(to), len(text), reference
        )


class LocmemSMSBackend(SMSBackend):
    """Keeps sent SMS in `LocmemSMSBackend.outbox` (and their references), for tests."""

    outbox: list[tuple[str, str]] = []
    references: list[str] = []

    def send(self, *, to: str, text: str, reference: str = "") -> None:
        self.outbox.append((to, text))
        self.references.append(reference)


def get_sms_backend() -> SMSBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(*, to: str, text: str, reference: str = "") -> None:
    get_sms_backend().send(to=to, text=text, reference=reference)
