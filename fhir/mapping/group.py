"""Group: a support group, with its members' periods where the reader may see members."""

from django.db.models import Exists, OuterRef

from attendance.models import Enrollment
from clinics.roles import CLINICAL_ROLES
from sessions.models import SupportGroup

from ..permissions import sees_members
from ..search import Stream, numeric_ids, reference_ids
from .base import ResourceType, SearchParameter
from .common import (
    GROUP_CATEGORY_SYSTEM,
    GROUP_CHARACTERISTIC_SYSTEM,
    coding,
    date,
    drop_empty,
    meta,
    reference,
)

# Who is or was a member: everyone who joined (referrals and the waiting list are not members).
MEMBERS = Enrollment.objects.filter(joined_on__isnull=False).exclude(
    status__in=[Enrollment.Status.REFERRED, Enrollment.Status.WAITLISTED]
)


def characteristic(code: str, display: str, system: str, value: str, value_display) -> dict:
    return {
        "code": {"coding": [coding(GROUP_CHARACTERISTIC_SYSTEM, code, display)]},
        "valueCodeableConcept": {"coding": [coding(system, value, value_display)]},
        "exclude": False,
    }


def member(enrollment: Enrollment) -> dict:
    return drop_empty(
        {
            "entity": reference("Patient", enrollment.participant_id),
            "period": drop_empty(
                {"start": date(enrollment.joined_on), "end": date(enrollment.left_on)}
            ),
            "inactive": enrollment.status != Enrollment.Status.ACTIVE,
        }
    )


def group(support_group: SupportGroup, members: list[Enrollment] | None) -> dict:
    """`members` None: the reader may not see them (an auditor), so neither the members nor
    their number are given."""
    resource = {
        "resourceType": "Group",
        "id": str(support_group.pk),
        "meta": meta(support_group),
        "active": support_group.status != SupportGroup.Status.ENDED,
        "type": "person",
        "actual": True,
        "name": support_group.name,
        "managingEntity": reference("Organization", support_group.institution_id),
        "characteristic": [
            characteristic(
                "category",
                "Category",
                GROUP_CATEGORY_SYSTEM,
                support_group.category,
                support_group.get_category_display(),
            ),
        ],
    }
    if members is not None:
        resource["quantity"] = sum(1 for e in members if e.status == Enrollment.Status.ACTIVE)
        resource["member"] = [member(enrollment) for enrollment in members]
    return drop_empty(resource)


class GroupType(ResourceType):
    name = "Group"
    documentation = (
        "Support groups. Members (with their period and inactive) for the clinical roles only."
    )
    parameters = (
        SearchParameter(
            "member",
            "reference",
            "http://hl7.org/fhir/SearchParameter/Group-member",
            "Groups a Patient is or was a member of (clinical roles only).",
        ),
    )

    def streams(self):
        return [Stream("", self.scoped(SupportGroup.objects.all()))]

    includes = ("Group:member",)

    def filter_member(self, key, queryset, values):
        ids = numeric_ids(reference_ids(values, "Patient"))
        # Only memberships the reader may see: an auditor's search by member finds nothing.
        visible = MEMBERS.filter(participant_id__in=ids, group=OuterRef("pk"))
        visible = visible.for_user(self.user, roles=CLINICAL_ROLES)
        return queryset.filter(Exists(visible))

    def _members(self, groups) -> dict[int, list[Enrollment]]:
        """The members of the groups whose members the reader may see (one query)."""
        readable = [g.pk for g in groups if sees_members(self.user, g.institution_id)]
        members: dict[int, list[Enrollment]] = {pk: [] for pk in readable}
        if readable:
            for enrollment in MEMBERS.filter(group_id__in=readable).order_by("joined_on", "pk"):
                members[enrollment.group_id].append(enrollment)
        return members

    def represent(self, rows):
        groups = [support_group for _key, support_group in rows]
        members = self._members(groups)
        return [group(g, members.get(g.pk)) for g in groups]

    def included(self, query, rows):
        """`_include=Group:member`: the members' Patients, as PatientType shows and audits
        them (only where the reader sees members: an auditor's page includes no one)."""
        if "Group:member" not in query.includes:
            return []
        from .patient import PatientType

        ids = {
            enrollment.participant_id
            for enrollments in self._members([g for _key, g in rows]).values()
            for enrollment in enrollments
        }
        patients = PatientType(self.request)
        people = [("", p) for p in patients.streams()[0].queryset.filter(pk__in=ids).order_by("pk")]
        if not people:
            return []
        patients.audit_page(people)
        return patients.represent(people)
