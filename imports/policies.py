"""Who may import and export. One question, one answer (STYLE.md 11)."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from clinics.models import StaffMembership
from clinics.roles import CLINICAL_ROLES, role_of

Role = StaffMembership.Role


def can_import(user, institution) -> bool:
    """Bringing a whole list in is the institution admin's job (SPEC: "An institution admin
    uploads a CSV or XLSX")."""
    return role_of(user, institution) == Role.ADMIN


def require_import(user, institution) -> None:
    if not can_import(user, institution):
        raise PermissionDenied(_("Only the institution's admins import spreadsheets."))


def can_export(user, institution) -> bool:
    """The register and the participant list: those who work with participants' records (as
    the group register report); auditors get aggregates only."""
    return role_of(user, institution) in CLINICAL_ROLES


def require_export(user, institution) -> None:
    if not can_export(user, institution):
        raise PermissionDenied(_("Your role does not allow this export."))
