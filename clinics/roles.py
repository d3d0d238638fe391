"""What a user's role in an institution lets them do. The services ask here, nowhere else."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from .models import StaffMembership
from .querysets import memberships_of

Role = StaffMembership.Role

# Who may work with participants' records (names, consents, attendance, enrollments).
CLINICAL_ROLES = (Role.ADMIN, Role.FACILITATOR, Role.STAFF)
# Who may plan groups and sessions and change a group's facilitators.
PLANNING_ROLES = (Role.ADMIN, Role.FACILITATOR)
ALL_ROLES = tuple(Role)


def role_of(user, institution) -> str | None:
    """The user's active role in `institution`, or None. Superusers act as admins."""
    if user is None or not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    institution_id = institution if isinstance(institution, int) else institution.pk
    return memberships_of(user).get(institution_id)


def require_role(user, institution, roles, action: str = "") -> str:
    """Refuse unless the user holds one of `roles` in `institution`."""
    role = role_of(user, institution)
    if role not in roles:
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": action}
            if action
            else _("Your role does not allow this.")
        )
    return role
