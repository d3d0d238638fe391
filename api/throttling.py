"""Per-user throttling of writes; sign-in attempts throttled per username and, more loosely,
per client address (a hospital's staff share one NAT address).

Rates are read from settings at request time (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]), so
an operator can change them by environment and a test can lower them.
"""

import hashlib

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
    """Sign-in attempts per username, so guessing one account's password is slow, whoever
    sends them and from however many addresses."""

    scope = "login"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None  # refused by the serializer anyway; the address throttle counts it
        ident = hashlib.sha256(username.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginAddressThrottle(_SettingsRateThrottle):
    """Sign-in attempts per client address (REMOTE_ADDR unless NUM_PROXIES says otherwise),
    loose enough for a whole hospital behind one address, tight enough to slow a sprayer."""

    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
