"""Per-user throttling of writes and per-address-and-name throttling of sign-in attempts.

Rates are read from settings at request time (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]), so
an operator can change them by environment and a test can lower them.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class _SettingsRateThrottle(SimpleRateThrottle):
    def __init__(self):
        # SimpleRateThrottle reads the rate at import time; read it per request instead.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self):
        return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(self.scope)


class UserWriteThrottle(_SettingsRateThrottle):
    """Writes (POST, PUT, PATCH, DELETE) per signed-in user."""

    scope = "user_write"

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class LoginThrottle(_SettingsRateThrottle):
    """Sign-in attempts per client address, so guessing passwords is slow."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
