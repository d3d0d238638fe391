"""Turning two-factor sign-in on and off; each change is in the audit log."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import audit_record

from .two_factor import two_factor_required


@transaction.atomic
def two_factor_device_start(*, user) -> TOTPDevice:
    """The authenticator-app device being set up: a new secret, not yet confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    return device


@transaction.atomic
def two_factor_device_confirm(*, device: TOTPDevice, token: str, by) -> TOTPDevice:
    """Confirm a device with a first code from the app; from now on sign-ins need a code."""
    if device.user_id != by.pk or device.confirmed:
        raise ValidationError(_("This device cannot be confirmed."))
    if not device.verify_token((token or "").strip()):
        raise ValidationError({"token": _("This code is not valid. Check the time on your phone.")})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=by, confirmed=False).delete()
    audit_record(actor=by, action="auth.two_factor_enabled", details={"device": device.pk})
    return device


def two_factor_disable(*, user, by, password: str = "", token: str = "") -> None:
    """Remove a user's devices (themselves, or the platform operator for a lost phone).

    Turning one's own codes off needs the password and a fresh code: a stolen password alone
    must not be enough to remove the second factor. A refusal is in the audit log.
    """
    if by.pk != user.pk and not by.is_superuser:
        raise ValidationError(_("Only the platform operator can turn off someone else's codes."))
    if by.pk == user.pk:
        if two_factor_required(user):
            raise ValidationError(
                _(
                    "Your institution requires two-factor sign-in for admins; it cannot be "
                    "turned off."
                )
            )
        problems = {}
        if not user.check_password(password or ""):
            # The code is not even tried: a wrong password must not spend it.
            problems["password"] = _("Your password is not correct.")
        elif match_token(user, (token or "").strip()) is None:
            problems["token"] = _("This code is not valid. Try the next one.")
        if problems:
            # Its own transaction: the refusal is recorded although nothing else is written.
            audit_record(
                actor=by,
                action="auth.two_factor_change_refused",
                details={"fields": sorted(problems)},
            )
            raise ValidationError(problems)
    with transaction.atomic():
        _disable(user=user, by=by)


def _disable(*, user, by) -> None:
    removed, _details = TOTPDevice.objects.filter(user=user).delete()
    if removed:
        audit_record(
            actor=by, action="auth.two_factor_disabled", details={"user": user.get_username()}
        )
