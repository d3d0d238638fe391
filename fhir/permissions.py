"""Who reads which FHIR resource: the REST API's rules (api/permissions.py), per resource type.

Nothing new is decided here. A user reads the institutions they belong to and nothing else
(`Model.objects.for_user`); participants' records — participants, consents, attendance,
memberships — only where they hold a clinical role (clinics.roles.CLINICAL_ROLES), exactly as
the API's participants/, consents/, attendance/ and enrollments/ are empty to an auditor. So
an auditor (aggregates only, SPEC.md) finds no Patient, Consent or Encounter (empty searches,
404, as for another institution's), and sees groups and sessions without their members.
How a participant is named is reports.privacy's decision.
"""

from clinics.roles import ALL_ROLES, CLINICAL_ROLES, role_of

READERS = {
    "Organization": ALL_ROLES,
    "Practitioner": ALL_ROLES,
    "Group": ALL_ROLES,
    "Appointment": ALL_ROLES,
    "Patient": CLINICAL_ROLES,
    "Consent": CLINICAL_ROLES,
    "Encounter": CLINICAL_ROLES,
}


def sees_members(user, institution_id: int) -> bool:
    """Whether the members of a group (enrollments, clinical rows) are shown to `user`:
    Group.member and the patients among an Appointment's participants."""
    return role_of(user, institution_id) in CLINICAL_ROLES
