"""Sends a signed-in user whose session lacks a required second factor to the code page."""

import time

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from fhir.outcome import operation_outcome

from .two_factor import must_verify

SESSION_KEY = "security_2fa_checked_at"
# A session found not to need a code is re-checked this often, so an institution that turns
# the requirement on reaches sessions already open within minutes, at one query per interval.
RECHECK_SECONDS = 300


def _exempt_prefixes() -> tuple[str, ...]:
    prefixes = ["/account/two-factor/", "/i18n/", "/health/", "/" + settings.STATIC_URL.lstrip("/")]
    for name in ("staff:logout", "admin:logout"):
        try:
            prefixes.append(reverse(name))
        except NoReverseMatch:
            pass
    return tuple(prefixes)


class TwoFactorMiddleware:
    """After django_otp's OTPMiddleware: the admin, the staff UI and session-authenticated API
    and FHIR calls are all closed until the code is given. Token-authenticated API calls carry no session
    and are not concerned (the token is issued on sign-in)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and self._needs_code(request):
            if not request.path.startswith(_exempt_prefixes()):
                return self._refuse(request)
        return self.get_response(request)

    def _needs_code(self, request) -> bool:
        checked = request.session.get(SESSION_KEY)
        if checked is not None and time.time() - checked < RECHECK_SECONDS:
            return False
        if must_verify(request.user):
            request.session.pop(SESSION_KEY, None)
            return True
        request.session[SESSION_KEY] = time.time()
        return False

    def _refuse(self, request):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": _("Two-factor verification required.")}, status=403)
        if request.path.startswith("/fhir/"):
            return JsonResponse(
                operation_outcome("login", _("Two-factor verification required.")),
                status=403,
                content_type="application/fhir+json",
            )
        target = reverse("security:two_factor_verify")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
