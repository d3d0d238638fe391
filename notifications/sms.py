"""Sending SMS through a small, pluggable backend.

The backend is named by the `SMS_BACKEND` setting (a dotted path). The default,
`LoggingSMSBackend`, only writes the message to the log, so nothing leaves the machine until
an operator plugs in a provider. To plug one, subclass `SMSBackend`, implement `send()`, and
set `SMS_BACKEND=yourpackage.sms.ProviderBackend`:

    class ProviderBackend(SMSBackend):
        def send(self, *, to: str, text: str) -> None:
            try:
                response = requests.post(URL, json={"to": to, "text": text}, timeout=10)
            except requests.RequestException as exc:
                raise SMSTemporaryError(str(exc)) from exc  # retried with backoff
            if response.status_code >= 500:
                raise SMSTemporaryError(response.text)
            if response.status_code >= 400:
                raise SMSError(response.text)  # permanent: the message is marked failed

Raise `SMSTemporaryError` (or ConnectionError / TimeoutError) for what is worth retrying and
`SMSError` for what is not.
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

    def send(self, *, to: str, text: str) -> None:
        raise NotImplementedError


class LoggingSMSBackend(SMSBackend):
    """Writes the SMS to the log instead of sending it (the default)."""

    def send(self, *, to: str, text: str) -> None:
        logger.info("SMS to %s: %s", to, text)


class LocmemSMSBackend(SMSBackend):
    """Keeps sent SMS in `LocmemSMSBackend.outbox`, for tests."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        self.outbox.append((to, text))


def get_sms_backend() -> SMSBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(*, to: str, text: str) -> None:
    get_sms_backend().send(to=to, text=text)
