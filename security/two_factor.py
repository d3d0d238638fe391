"""Who must sign in with a second factor (TOTP), and who may.

Every staff member may turn it on for themselves; the admins of an institution that turned on
"require two-factor sign-in" must use it. Once a user has a confirmed device, every session of
theirs must be verified with it.
"""

from django_otp import user_has_device

from clinics.models import StaffMembership


def two_factor_required(user) -> bool:
    """An active admin of an institution that requires two-factor sign-in."""
    return StaffMembership.objects.filter(
        user=user,
        is_active=True,
        role=StaffMembership.Role.ADMIN,
        institution__require_two_factor=True,
    ).exists()


def must_verify(user) -> bool:
    """A signed-in user whose session still lacks the second factor it needs."""
    if not user.is_authenticated or user.is_verified():
        return False
    return user_has_device(user, confirmed=True) or two_factor_required(user)


def code_problem_for_token_login(user, code: str) -> str | None:
    """Why a device may not get an API token with this code (None: it may).

    A token outlives the sign-in, so a user who must give a code at the web sign-in gives one
    here too; one who has yet to set codes up does that in the web app first.
    """
    from django.utils.translation import gettext as _
    from django_otp import match_token

    has_device = user_has_device(user, confirmed=True)
    if not has_device and not two_factor_required(user):
        return None
    if not has_device:
        return _("Your institution requires two-factor sign-in: set it up in the web app first.")
    if not code or match_token(user, code.strip()) is None:
        return _("Give the current code from your authenticator app.")
    return None
