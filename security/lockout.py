"""What a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE): JSON for the API, the
staff page otherwise; both 429 with Retry-After."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def lockout_response(request, original_response=None, credentials=None):
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _(
        "Too many failed sign-ins with this username. Try again in %(minutes)d minutes, or ask "
        "your institution's admin."
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(
            request, "staff/security/locked_out.html", {"message": message}, status=429
        )
    response["Retry-After"] = str(minutes * 60)
    return response
