"""Where the current request comes from, for the audit log (IP address and client)."""

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Origin:
    ip_address: str | None = None
    client: str = ""


current_origin: ContextVar[Origin | None] = ContextVar("current_origin", default=None)


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with PROXY_COUNT proxies in front the address the
    outermost of them saw (as DRF's NUM_PROXIES and django-axes read it). X-Forwarded-For is
    ignored unless proxies are declared: a client could write anything there."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    candidate = hops[-min(proxies, len(hops))] if hops else ""
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class AuditOriginMiddleware:
    """Remembers the caller's address and client for the services that write audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ip = client_address(request)
        client = request.META.get("HTTP_USER_AGENT", "")[:255]
        token = current_origin.set(Origin(ip_address=ip, client=client))
        try:
            return self.get_response(request)
        finally:
            current_origin.reset(token)
