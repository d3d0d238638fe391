"""Whether to show the admin-only links (audit log, participants' rights) to a user.

Both read the user's roles once per request (clinics.roles.role_of caches them on the user).
"""

from django import template

from clinics.querysets import memberships_of
from clinics.roles import Role, role_of

register = template.Library()


def _roles(user) -> dict:
    if not user.is_authenticated:
        return {}
    return memberships_of(user)


@register.filter
def reads_audit_log(user) -> bool:
    """An admin of at least one institution (or the platform operator)."""
    return user.is_authenticated and (user.is_superuser or Role.ADMIN in _roles(user).values())


@register.filter
def admin_of(user, institution) -> bool:
    return role_of(user, institution) == Role.ADMIN
