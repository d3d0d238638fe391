"""Sign-ins and failed sign-ins into the audit log, from Django's auth signals.

The staff UI and the admin sign in through django.contrib.auth's login(), which sends
user_logged_in; a device's API sign-in is recorded by api_token_issue instead. Every failed
authenticate() — UI, admin, API, locked-out attempts included — sends user_login_failed.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from .services import audit_record


def _home_institution(user):
    """The institution whose admins should see this user's sign-ins: their only one, if one."""
    from clinics.models import StaffMembership

    ids = list(
        StaffMembership.objects.filter(user=user, is_active=True).values_list(
            "institution", flat=True
        )[:2]
    )
    if len(ids) != 1:
        return None
    from clinics.models import Institution

    return Institution.objects.get(pk=ids[0])


@receiver(user_logged_in, dispatch_uid="audit_sign_in")
def record_sign_in(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.signed_in", institution=_home_institution(user))


@receiver(user_login_failed, dispatch_uid="audit_sign_in_failed")
def record_sign_in_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        actor=None,
        action="auth.sign_in_failed",
        institution=_home_institution(user) if user is not None else None,
        details={
            "username": username,
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )
