"""Where the current request comes from, for the audit log (IP address and client)."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    ip_address: str | None = None
    client: str = ""


current_origin: ContextVar[Origin | None] = ContextVar("current_origin", default=None)


class AuditOriginMiddleware:
    """Remembers the caller's address and client for the services that write audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ip = request.META.get("REMOTE_ADDR") or None
        client = request.META.get("HTTP_USER_AGENT", "")[:255]
        token = current_origin.set(Origin(ip_address=ip, client=client))
        try:
            return self.get_response(request)
        finally:
            current_origin.reset(token)
