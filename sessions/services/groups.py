"""Support groups and their facilitators: plan, change, staff them."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.roles import PLANNING_ROLES, Role, require_role

from ..models import (
    GroupFacilitator,
    Session,
    SupportGroup,
)

GROUP_EDITABLE = (
    "name",
    "category",
    "description",
    "membership_mode",
    "entry_points",
    "capacity",
    "min_size",
    "default_room",
    "online_link",
    "language",
    "ground_rules",
    "status",
    "starts_on",
    "ends_on",
)


def _refuse_unknown_fields(fields: dict) -> None:
    unknown = set(fields) - set(GROUP_EDITABLE)
    if unknown:
        raise ValidationError({name: _("This field cannot be set.") for name in sorted(unknown)})


def _check_group_fields(group: SupportGroup) -> None:
    """The rules a group's fields must keep together, with messages a planner understands
    (checked before `full_clean`, whose constraint messages are generic)."""
    errors = {}
    if group.default_room_id and group.default_room.site.institution_id != group.institution_id:
        errors["default_room"] = _("This room belongs to another institution.")
    if group.membership_mode == SupportGroup.MembershipMode.SEMI_OPEN:
        points = group.entry_points
        if (
            not points
            or not isinstance(points, list)
            or not all(isinstance(p, int) and p >= 1 for p in points)
        ):
            errors["entry_points"] = _(
                "A semi-open group needs its entry points: session numbers such as 1, 5, 9."
            )
    elif group.entry_points:
        errors["entry_points"] = _("Only semi-open groups have entry points.")
    if group.min_size and group.capacity and group.min_size > group.capacity:
        errors["min_size"] = _("The minimum size cannot exceed the capacity.")
    if errors:
        raise ValidationError(errors)
    group.entry_points = sorted(set(group.entry_points or []))


@transaction.atomic
def group_create(*, institution, by, facilitators=(), **fields) -> SupportGroup:
    """Create a support group. `facilitators` is a list of (user, role) pairs."""
    require_role(by, institution, PLANNING_ROLES, _("create groups"))
    _refuse_unknown_fields(fields)
    group = SupportGroup(institution=institution, **fields)
    _check_group_fields(group)
    group.full_clean()
    group.save()
    for user, role in facilitators:
        group_facilitator_set(group=group, user=user, role=role, by=by)
    audit_record(actor=by, action="group.created", obj=group)
    return group


@transaction.atomic
def group_update(
    *, group: SupportGroup, by, precondition: Precondition = None, **fields
) -> SupportGroup:
    """Change a group's details. The capacity cannot drop below the members it already has."""
    require_role(by, group.institution_id, PLANNING_ROLES, _("change groups"))
    _refuse_unknown_fields(fields)
    group = lock_for_change(group, precondition)
    for name, value in fields.items():
        setattr(group, name, value)
    _check_group_fields(group)
    if "capacity" in fields:
        members = group.enrollments.filter(status="active").count()
        if isinstance(group.capacity, int) and group.capacity < members:
            raise ValidationError(
                {
                    "capacity": _(
                        "The group has %(n)s active members; the capacity cannot be lower."
                    )
                    % {"n": members}
                }
            )
    group.full_clean()
    group.save(update_fields=changed_fields(*fields, "entry_points"))
    audit_record(actor=by, action="group.changed", obj=group, details={"fields": sorted(fields)})
    return group


def _can_lead_groups(user, institution_id: int) -> bool:
    """Whether `user` may facilitate (or substitute in) the institution's groups."""
    from clinics.models import StaffMembership

    return StaffMembership.objects.filter(
        user=user,
        institution_id=institution_id,
        is_active=True,
        role__in=[Role.ADMIN, Role.FACILITATOR],
    ).exists()


def _clash_label(other: Session, institution_id: int) -> str:
    """Name the clashing session, unless it belongs to another institution where the same
    facilitator also works: that one stays invisible."""
    if other.institution_id != institution_id:
        return _("a session of another institution")
    return str(other)


def _check_facilitator_free(group: SupportGroup, user) -> None:
    """Refuse making `user` a lead or co-facilitator while one of the group's coming sessions
    overlaps a session they are already booked by elsewhere."""
    coming = list(
        group.sessions.not_cancelled().filter(ends_at__gt=timezone.now()).order_by("starts_at")
    )
    if not coming:
        return
    elsewhere = list(
        Session.objects.not_cancelled()
        .exclude(group=group)
        .overlapping(coming[0].starts_at, coming[-1].ends_at)
        .filter(
            Q(
                group__facilitator_roles__user=user,
                group__facilitator_roles__role__in=GroupFacilitator.BOOKED_ROLES,
            )
            | Q(substitute_facilitator=user)
        )
        .select_related("group")
        .distinct()
    )
    for session in coming:
        for other in elsewhere:
            if other.starts_at < session.ends_at and other.ends_at > session.starts_at:
                raise ValidationError(
                    {
                        "user": _(
                            "This person is already booked at the time of session %(n)s "
                            "(%(session)s)."
                        )
                        % {
                            "n": session.sequence,
                            "session": _clash_label(other, group.institution_id),
                        }
                    }
                )


@transaction.atomic
def group_facilitator_set(*, group: SupportGroup, user, role: str, by) -> GroupFacilitator:
    """Add a facilitator to a group or change their role. Staff cannot change facilitators.

    A lead or co-facilitator is booked by the group's sessions, so they must be free then.
    """
    require_role(by, group.institution_id, PLANNING_ROLES, _("change a group's facilitators"))
    if role not in GroupFacilitator.Role.values:
        raise ValidationError({"role": _("Unknown facilitator role.")})
    if not _can_lead_groups(user, group.institution_id):
        raise ValidationError(
            {"user": _("Only a facilitator or admin of this institution can lead its groups.")}
        )
    if role in GroupFacilitator.BOOKED_ROLES:
        _check_facilitator_free(group, user)
    facilitator, created = GroupFacilitator.objects.update_or_create(
        group=group, user=user, defaults={"role": role}
    )
    audit_record(
        actor=by,
        action="group.facilitator_set",
        obj=group,
        details={"user": user.pk, "role": role, "created": created},
    )
    return facilitator


@transaction.atomic
def group_facilitator_remove(*, group: SupportGroup, user, by) -> None:
    """Take a facilitator off a group (their past sessions keep them in the audit log)."""
    require_role(by, group.institution_id, PLANNING_ROLES, _("change a group's facilitators"))
    deleted, _count = GroupFacilitator.objects.filter(group=group, user=user).delete()
    if not deleted:
        raise ValidationError({"user": _("This person does not facilitate the group.")})
    audit_record(actor=by, action="group.facilitator_removed", obj=group, details={"user": user.pk})


def _check_group_not_ended(group: SupportGroup) -> None:
    if group.status == SupportGroup.Status.ENDED:
        raise ValidationError(_("The group has ended."))
