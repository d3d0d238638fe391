"""Questions about groups, sessions and notes with one answer each (STYLE.md 11).

The services, the staff UI, the API's querysets and the reports ask these functions; none keeps
a copy of their rule. "Is this user a facilitator of this group, and in which role?" is
`facilitator_role`; which notes a user may read is `notes_readable_by` (the Q) and
`can_read_note` (one note), who writes them `can_write_notes`, who co-signs `can_cosign_note`.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from clinics.models import StaffMembership
from clinics.roles import CLINICAL_ROLES, PLANNING_ROLES, Role, role_of

from .models import GroupFacilitator, Session, SessionNote, SupportGroup

FRole = GroupFacilitator.Role
# The substitute of one session stands in for a lead: they write that session's notes.
SUBSTITUTE = FRole.LEAD


# --- Who facilitates ---------------------------------------------------------------------------


def facilitator_role(user, group: SupportGroup | int) -> str | None:
    """The user's role in the group (lead, co-facilitator, trainee, observer), or None."""
    if user is None or not user.is_authenticated:
        return None
    group_id = group if isinstance(group, int) else group.pk
    return (
        GroupFacilitator.objects.filter(group_id=group_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def session_role(user, session: Session) -> str | None:
    """The user's role for one session: their role in its group, or a lead's as its substitute."""
    if user is not None and session.substitute_facilitator_id == getattr(user, "pk", None):
        return SUBSTITUTE
    return facilitator_role(user, session.group_id)


def facilitates(user, group: SupportGroup | int, roles=tuple(FRole)) -> bool:
    """Whether the user facilitates the group in one of `roles` (any role by default)."""
    return facilitator_role(user, group) in roles


def leads_session(user, session: Session) -> bool:
    """Whether the user works the session: lead, co-facilitator or trainee, or its substitute.
    Observers watch; they take no attendance and read no notes."""
    return session_role(user, session) in GroupFacilitator.NOTE_ROLES


def groups_facilitated_q(user, roles=tuple(FRole)) -> Q:
    """The Q of the groups the user facilitates in one of `roles`."""
    roles_q = GroupFacilitator.objects.filter(
        group_id=OuterRef("pk"), user=user, role__in=list(roles)
    )
    return Q(Exists(roles_q))


def sessions_led_q(user, roles=tuple(FRole), *, through: str = "") -> Q:
    """The Q of sessions the user facilitates (in `roles`) or substitutes in; with `through`
    (e.g. "session__"), of the rows whose session that is (notes, tasks).

    A semi-join on the facilitator's few groups, asked through the row's own session, not
    `session_id IN (every session the user leads)`: PostgreSQL costed that subquery over the
    whole sessions table (1.3 M) and spent 1–2 s compiling it with JIT before reading a single
    note (docs/benchmarks.md, the staff pages)."""
    groups = GroupFacilitator.objects.filter(user=user, role__in=list(roles)).values("group_id")
    return Q(**{f"{through}group_id__in": groups}) | Q(**{f"{through}substitute_facilitator": user})


def is_supervisor(user, institution_id: int) -> bool:
    """Whether the user is one of the institution's clinical supervisors."""
    if user is None or not user.is_authenticated:
        return False
    return StaffMembership.objects.filter(
        user=user, institution_id=institution_id, is_active=True, is_supervisor=True
    ).exists()


def may_see_names(user, group: SupportGroup) -> bool:
    """The role half of naming people in a report: the institution's admin, or a facilitator of
    that group who works with its members (not an observer)."""
    role = role_of(user, group.institution_id)
    if role == Role.ADMIN:
        return True
    return role == Role.FACILITATOR and facilitates(user, group, GroupFacilitator.NOTE_ROLES)


def may_issue_certificate(user, group: SupportGroup) -> bool:
    """An admin, or a lead or co-facilitator of that group (they sign it)."""
    role = role_of(user, group.institution_id)
    if role == Role.ADMIN:
        return True
    return role == Role.FACILITATOR and facilitates(user, group, GroupFacilitator.LOCKING_ROLES)


# --- Notes -----------------------------------------------------------------------------------


def can_write_notes(user, session: Session) -> bool:
    """Lead, co-facilitator, trainee or the session's substitute, in a clinical role."""
    if role_of(user, session.institution_id) not in CLINICAL_ROLES:
        return False
    return leads_session(user, session)


def require_note_writer(user, session: Session) -> None:
    if not can_write_notes(user, session):
        raise PermissionDenied(
            _(
                "Only the group's lead, co-facilitators and trainees write its session notes; "
                "ask the lead to change your role in the group."
            )
        )


def notes_readable_by(user) -> Q:
    """The Q of notes the user may read: those of sessions they work (an observer none), a
    private one only by its author; and, for a supervisor, trainees' notes of their
    institutions (they co-sign them)."""
    works = sessions_led_q(user, GroupFacilitator.NOTE_ROLES, through="session__")
    readable = works & (~Q(kind=SessionNote.Kind.PRIVATE) | Q(author=user))
    supervised = StaffMembership.objects.filter(
        user=user, is_active=True, is_supervisor=True
    ).values("institution_id")
    readable |= (
        Q(session__institution_id__in=supervised)
        & ~Q(kind=SessionNote.Kind.PRIVATE)
        & Q(needs_cosignature=True)
    )
    return readable


def can_read_note(user, note: SessionNote) -> bool:
    return SessionNote.objects.filter(pk=note.pk).filter(notes_readable_by(user)).exists()


def can_cosign_note(user, note: SessionNote) -> bool:
    """A trainee's signed note is co-signed by the group's lead or co-facilitator (or the
    session's substitute), or by one of the institution's supervisors; never by its signer."""
    if not note.awaits_cosignature or note.signed_by_id == getattr(user, "pk", None):
        return False
    if role_of(user, note.session.institution_id) not in PLANNING_ROLES:
        return False
    if session_role(user, note.session) in GroupFacilitator.LOCKING_ROLES:
        return True
    return is_supervisor(user, note.session.institution_id)


def notes_awaiting_cosignature_q(user) -> Q:
    """The Q of notes waiting for this user's co-signature (their Today list and the API)."""
    locks = sessions_led_q(user, GroupFacilitator.LOCKING_ROLES, through="session__")
    supervised = StaffMembership.objects.filter(
        user=user, is_active=True, is_supervisor=True
    ).values("institution_id")
    mine = locks | Q(session__institution_id__in=supervised)
    return (
        mine
        & Q(needs_cosignature=True, signed_at__isnull=False, cosigned_at__isnull=True)
        & ~Q(signed_by=user)
    )
