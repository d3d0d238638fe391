"""Whether to show the spreadsheets page (imports for admins, exports for clinical roles)."""

from django import template

from clinics.querysets import memberships_of
from clinics.roles import CLINICAL_ROLES

register = template.Library()


@register.filter
def works_with_spreadsheets(user) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or any(r in CLINICAL_ROLES for r in memberships_of(user).values())
