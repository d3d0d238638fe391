"""The second step of signing in (a code from an authenticator app) and its set-up page."""

import base64
from io import BytesIO

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import match_token, user_has_device

from audit.services import audit_record

from .forms import CodeForm
from .middleware import SESSION_KEY
from .services import two_factor_device_confirm, two_factor_device_start, two_factor_disable
from .two_factor import two_factor_required


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
def two_factor_verify(request):
    """Ask for the current code; a user who must use codes but has no device sets one up."""
    if request.user.is_verified():
        return redirect(_next_url(request))
    if not user_has_device(request.user, confirmed=True):
        setup = resolve_url("security:two_factor_setup")
        return redirect(f"{setup}?{urlencode({'next': _next_url(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].strip())
        if device is not None:
            django_otp.login(request, device)
            request.session.pop(SESSION_KEY, None)
            return redirect(_next_url(request))
        # Its own transaction: the failed attempt is recorded although nothing else is written.
        audit_record(actor=request.user, action="auth.two_factor_failed")
        form.add_error("token", _("This code is not valid. Try the next one."))
    return render(request, "staff/security/verify.html", {"form": form, "next": _next_url(request)})


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    # The SVG is made here from our own otpauth:// URL, never from user input.
    return mark_safe(buffer.getvalue().decode())  # noqa: S308 - our own otpauth URL, no user input  # nosec B308 B703


@login_required
def two_factor_setup(request):
    """Turn codes on: scan the QR code with an authenticator app and confirm a first code."""
    user = request.user
    if user_has_device(user, confirmed=True):
        return render(
            request,
            "staff/security/setup.html",
            {"nav": "security", "enabled": True, "required": two_factor_required(user)},
        )
    device = two_factor_device_start(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor_device_confirm(
                device=device, token=form.cleaned_data["token"], by=user
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("token", message)
        else:
            django_otp.login(request, device)
            request.session.pop(SESSION_KEY, None)
            messages.success(request, _("Two-factor sign-in is on."))
            return redirect(_next_url(request))
    return render(
        request,
        "staff/security/setup.html",
        {
            "nav": "security",
            "enabled": False,
            "required": two_factor_required(user),
            "form": form,
            "qr_svg": _qr_svg(device.config_url),
            "secret": base64.b32encode(device.bin_key).decode(),
            "next": _next_url(request),
        },
    )


@login_required
@require_POST
def two_factor_off(request):
    """Turn codes off for oneself with the password and a fresh code (refused to admins whose
    institution requires them)."""
    try:
        two_factor_disable(
            user=request.user,
            by=request.user,
            password=request.POST.get("password", ""),
            token=request.POST.get("token", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Two-factor sign-in is off."))
    return redirect("security:two_factor_setup")
