"""Who may use which part of the API, by membership and role.

Visibility is applied once, in the base viewset's get_queryset(): rows of institutions the user
does not belong to do not exist (404 / empty lists). Clinical rows (participants, enrollments,
consents, attendance) are visible only where the user holds a clinical role, so an auditor sees
empty lists and 404s there — the same "invisible" answer as for another institution. Notes are
visible to the group's facilitators only (SessionNote.objects.readable_by).

A clinical sub-resource of an object the user can see (a session's roster for an auditor) is
refused with 403. Role refusals of writes come from the services (PermissionDenied → 403).
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from clinics.roles import CLINICAL_ROLES, role_of


class HasClinicalRole(BasePermission):
    """The object's institution must be one where the user works with participants' records."""

    message = _("Your role does not allow you to see participants' records.")

    def has_object_permission(self, request, view, obj):
        return role_of(request.user, obj.institution_id) in CLINICAL_ROLES
