"""The confidentiality rules of every report, in one place (SPEC.md "Confidentiality is the
product"). Every builder asks here who may see what; none decides on its own.

- who may ask for which report: auditors (and the scheduled summary) get aggregates only;
- how a participant is named: by name only when the reader's role (the institution's admin or
  a facilitator of that group) AND the participant's health-data consent both allow it,
  otherwise by code (institution reports) or alias (the sign-in sheet, which the group sees);
- aggregates: a count of people below 5 prints as "<5", a rate about fewer than 5 people as "–";
- private facilitator notes never reach a report; a participant's export holds their own
  participant notes only;
- a certificate needs an active disclosure consent for exactly that recipient.
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from attendance.models import Consent, Enrollment
from attendance.services import has_consent
from clinics.models import StaffMembership
from clinics.roles import role_of
from sessions.models import GroupFacilitator, SessionNote

Role = StaffMembership.Role

SUPPRESSION_THRESHOLD = 5
SUPPRESSED = "<5"
SUPPRESSED_RATE = "–"

# Which roles may ask for which report (the institution's, for the object the report is about).
ALLOWED_ROLES = {
    "sign_in_sheet": (Role.ADMIN, Role.FACILITATOR, Role.STAFF),
    "group_register": (Role.ADMIN, Role.FACILITATOR, Role.STAFF),
    "activity_summary": (Role.ADMIN, Role.FACILITATOR, Role.STAFF, Role.AUDITOR),
    "attendance_certificate": (Role.ADMIN, Role.FACILITATOR),
    # The access export is the data controller's answer to a GDPR request.
    "participant_export": (Role.ADMIN,),
}
# The reports that name no one: the only ones open to auditors and to the scheduler.
AGGREGATE_REPORTS = ("activity_summary",)
# Note kinds that may ever appear in a report (a participant's export only).
REPORTABLE_NOTE_KINDS = (SessionNote.Kind.PARTICIPANT,)


def check_may_request(*, user, institution, report_type: str, group=None) -> str:
    """Refuse a report the user's role does not allow; returns the role.

    A facilitator's certificate is for their own group's members: they sign it.
    """
    role = role_of(user, institution)
    if role is None:
        raise PermissionDenied(_("You are not a member of this institution."))
    if role == Role.AUDITOR and report_type not in AGGREGATE_REPORTS:
        raise PermissionDenied(_("Auditors receive aggregate reports only."))
    if role not in ALLOWED_ROLES[report_type]:
        raise PermissionDenied(_("Your role does not allow this report."))
    if (
        report_type == "attendance_certificate"
        and role == Role.FACILITATOR
        and not GroupFacilitator.objects.filter(group=group, user=user).exists()
    ):
        raise PermissionDenied(_("Only the group's facilitators or an admin issue certificates."))
    return role


def check_certificate_consent(*, participant, recipient: str) -> None:
    """A certificate exists only with an active disclosure consent for that recipient."""
    if not recipient or not recipient.strip():
        raise ValidationError({"recipient": _("Name the recipient of the certificate.")})
    if not has_consent(participant, Consent.Purpose.DISCLOSURE, recipient=recipient):
        raise ValidationError(
            {
                "recipient": _(
                    "The participant has no active consent to disclose their attendance to "
                    "“%(recipient)s”; no certificate can be issued."
                )
                % {"recipient": recipient.strip()}
            }
        )


@dataclass
class Naming:
    """How one report names participants, decided once per report.

    `named_ids`: participants whose name this reader may see; everyone else is shown by code
    (or by alias on group-facing outputs).
    """

    group_facing: bool = False
    named_ids: set[int] = field(default_factory=set)

    def label(self, participant) -> str:
        if participant.pk in self.named_ids and participant.legal_name:
            return participant.legal_name
        if self.group_facing:
            return participant.alias or participant.code
        return participant.code


def may_see_names(user, group) -> bool:
    """The role half of the rule: the institution's admin or a facilitator of that group."""
    if user is None:
        return False
    role = role_of(user, group.institution_id)
    if role == Role.ADMIN:
        return True
    if role == Role.FACILITATOR:
        return GroupFacilitator.objects.filter(group=group, user=user).exists()
    return False


def naming_for(*, user, group, participant_ids, group_facing: bool = False) -> Naming:
    """Who of `participant_ids` this user may see by name in a report about `group`.

    One query for the consents, whatever the number of participants. Group-facing outputs
    (the sign-in sheet lies on a table the whole group sees) never print legal names.
    """
    if group_facing or not may_see_names(user, group):
        return Naming(group_facing=group_facing)
    consenting = Consent.objects.active().filter(
        participant_id__in=list(participant_ids), purpose=Consent.Purpose.HEALTH_DATA
    )
    return Naming(named_ids=set(consenting.values_list("participant_id", flat=True)))


def named_participant_ids(*, user, participants) -> set[int]:
    """naming_for outside one group's report (the FHIR Patient): who of `participants` this
    user may see by name. The same rule: the institution's admin, or a facilitator of a group
    the person was referred to or belongs (belonged) to, and the health-data consent in force.

    Two queries at most, whatever the number of participants.
    """
    admin_of, facilitator_of = [], []
    for participant in participants:
        role = role_of(user, participant.institution_id)
        if role == Role.ADMIN:
            admin_of.append(participant.pk)
        elif role == Role.FACILITATOR:
            facilitator_of.append(participant.pk)
    candidates = set(admin_of)
    if facilitator_of:
        candidates |= set(
            Enrollment.objects.filter(
                participant_id__in=facilitator_of, group__facilitator_roles__user=user
            ).values_list("participant_id", flat=True)
        )
    if not candidates:
        return set()
    consenting = Consent.objects.active().filter(
        participant_id__in=candidates, purpose=Consent.Purpose.HEALTH_DATA
    )
    return set(consenting.values_list("participant_id", flat=True))


def suppress(count: int) -> int | str:
    """A count of people as an aggregate may print it: below 5 (and above 0) it is hidden."""
    if 0 < count < SUPPRESSION_THRESHOLD:
        return SUPPRESSED
    return count


def rate(numerator: int, denominator: int, *, people: int | None = None) -> str:
    """A percentage, or "–" when it is about fewer than 5 people (or about nothing)."""
    if not denominator:
        return SUPPRESSED_RATE
    if people is not None and people < SUPPRESSION_THRESHOLD:
        return SUPPRESSED_RATE
    return f"{round(100 * numerator / denominator)}%"


def plain_rate(numerator: int, denominator: int) -> str:
    """A percentage about identified rows (the register): no suppression there."""
    if not denominator:
        return "–"
    return f"{round(100 * numerator / denominator)}%"
