from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    """Sign-in hardening (two-factor pages and policy; lockout and CSP are configured in
    settings) and the participants' rights pages of the staff UI."""

    name = "security"
    verbose_name = _("Security and privacy")
