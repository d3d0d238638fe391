"""Practitioner: a member of staff who may lead groups, with their profession per institution."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef

from clinics.models import Institution, StaffMembership
from sessions.models import GroupFacilitator, Session

from ..search import Stream
from .base import ResourceType
from .common import PROFESSION_SYSTEM, coding, drop_empty, reference

Role = StaffMembership.Role
# Who can be named as a facilitator or a substitute (auditors never lead a session). Former
# staff stay readable: past sessions name them.
PRACTITIONER_ROLES = (Role.ADMIN, Role.FACILITATOR, Role.STAFF)


def practitioner(user, memberships: list[StaffMembership]) -> dict:
    name = drop_empty(
        {
            "text": user.get_full_name() or user.get_username(),
            "family": user.last_name,
            "given": [user.first_name] if user.first_name else [],
        }
    )
    qualifications = [
        {
            "code": {
                "coding": [
                    coding(
                        PROFESSION_SYSTEM,
                        membership.profession,
                        membership.get_profession_display(),
                    )
                ],
                "text": str(membership.get_profession_display()),
            },
            "issuer": reference("Organization", membership.institution_id),
        }
        for membership in memberships
        if membership.profession
    ]
    return drop_empty(
        {
            "resourceType": "Practitioner",
            "id": str(user.pk),
            "active": any(membership.is_active for membership in memberships),
            "name": [name],
            "qualification": qualifications,
        }
    )


class PractitionerType(ResourceType):
    name = "Practitioner"
    documentation = (
        "Staff of the user's institutions (admins, facilitators, staff) with their profession "
        "there, and anyone their sessions name as a facilitator or substitute. Users keep no "
        "change time: no _lastUpdated."
    )
    has_last_updated = False

    def _memberships(self):
        institutions = Institution.objects.for_user(self.user).values("pk")
        return StaffMembership.objects.filter(
            institution__in=institutions, role__in=PRACTITIONER_ROLES
        )

    def streams(self):
        # Staff of the reader's institutions, and whoever their sessions name as a facilitator
        # or a substitute: every Practitioner reference the facade gives out can be read.
        institutions = Institution.objects.for_user(self.user).values("pk")
        staff = self._memberships().filter(user=OuterRef("pk"))
        leads = GroupFacilitator.objects.filter(
            user=OuterRef("pk"), group__institution__in=institutions
        )
        stands_in = Session.objects.filter(
            substitute_facilitator=OuterRef("pk"), institution__in=institutions
        )
        users = get_user_model().objects.filter(Exists(staff) | Exists(leads) | Exists(stands_in))
        return [Stream("", users)]

    def represent(self, rows):
        users = [user for _key, user in rows]
        memberships: dict[int, list[StaffMembership]] = {}
        for membership in self._memberships().filter(user__in=users).order_by("institution_id"):
            memberships.setdefault(membership.user_id, []).append(membership)
        return [practitioner(user, memberships.get(user.pk, [])) for user in users]
