"""Finding people, groups and sessions by what the user types, always within the user's scope.

Codes and aliases are searched in SQL. Legal names are Fernet tokens (clinics/fields.py), so the
database cannot search them: a name is looked for by decrypting the names of a bounded set of
candidates — those left after the other filters, the most recently changed first, at most
`NAME_CANDIDATES` of them — and comparing in Python. When more candidates are left than that,
the answer says so (`names_partial`) and the page asks the user to narrow the search (by group,
membership or consent) for the rest. Only users who may see names (the clinical roles, the
same who see a participant's record) search them, and a page that shows a legal name because it
matched is recorded in the audit log as a read ("participant.listed" with the ids shown).
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from attendance.models import Consent, Enrollment
from audit.services import audit_record, listed_details
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, Role
from sessions.models import Session, SupportGroup

# How many legal names one search may decrypt (about 20 µs each): a bound on its cost.
NAME_CANDIDATES = 2000
# The shortest query that is compared with names (shorter ones match nearly everyone).
NAME_MIN_LENGTH = 3
PAGE_SIZE = 20


def fold(text: str) -> str:
    """Lower case without diacritics, so "lukasz" finds "Łukasz" and "zolw" finds "żółw"."""
    text = unicodedata.normalize("NFKD", text.casefold()).replace("ł", "l")
    return "".join(c for c in text if not unicodedata.combining(c))


@dataclass
class ParticipantSearch:
    """The participants a query finds, and the legal names it matched (id → name)."""

    queryset: QuerySet
    names: dict[int, str] = field(default_factory=dict)
    names_partial: bool = False
    names_searched: bool = False


def participants_in_scope(user) -> QuerySet:
    return Participant.objects.for_user(user, roles=CLINICAL_ROLES)


def search_participants(user, query: str, people: QuerySet | None = None) -> ParticipantSearch:
    """`people` (already scoped and filtered) narrowed to those whose code, alias or legal name
    contains `query`; the whole of `people` for an empty query."""
    people = participants_in_scope(user) if people is None else people
    query = query.strip()
    if not query:
        return ParticipantSearch(queryset=people)
    sql = Q(code__icontains=query) | Q(alias__icontains=query)
    if query.isdigit():
        sql |= Q(number=int(query))
    names: dict[int, str] = {}
    partial = searched = False
    if len(query) >= NAME_MIN_LENGTH and not re.fullmatch(r"[Pp]-?\d*", query):
        searched = True
        wanted = fold(query)
        candidates = list(
            people.exclude(legal_name="")
            .exclude(legal_name__isnull=True)
            .order_by("-updated_at", "-pk")
            .values_list("pk", "legal_name")[: NAME_CANDIDATES + 1]
        )
        partial = len(candidates) > NAME_CANDIDATES
        names = {pk: name for pk, name in candidates[:NAME_CANDIDATES] if wanted in fold(name)}
        if names:
            sql |= Q(pk__in=list(names))
    return ParticipantSearch(
        queryset=people.filter(sql), names=names, names_partial=partial, names_searched=searched
    )


def record_names_shown(user, shown: list[Participant], names: dict[int, str]) -> None:
    """A page that shows legal names is a read of those records: one event per institution."""
    by_institution: dict[int, list[Participant]] = {}
    for participant in shown:
        if participant.pk in names:
            by_institution.setdefault(participant.institution_id, []).append(participant)
    for people in by_institution.values():
        audit_record(
            actor=user,
            action="participant.listed",
            institution=people[0].institution,
            details=listed_details(people),
        )


# --- The participants list's filters -----------------------------------------------------------

MEMBERSHIP_NONE = "none"


def filter_membership(people: QuerySet, *, group=None, status: str = "") -> QuerySet:
    """People with a membership of `status` (in `group`, if given); "none": in no group now."""
    if status == MEMBERSHIP_NONE:
        open_ = Enrollment.objects.filter(status__in=Enrollment.OPEN_STATUSES)
        if group is not None:
            open_ = open_.filter(group=group)
        return people.exclude(pk__in=open_.values("participant_id"))
    if group is None and not status:
        return people
    enrollments = Enrollment.objects.all()
    if group is not None:
        enrollments = enrollments.filter(group=group)
    if status:
        enrollments = enrollments.filter(status=status)
    return people.filter(pk__in=enrollments.values("participant_id"))


def filter_consent(people: QuerySet, state: str) -> QuerySet:
    """`state` is "<purpose>:in_force" or "<purpose>:missing" (no consent in force)."""
    purpose, _, wanted = state.partition(":")
    if purpose not in Consent.Purpose.values or wanted not in ("in_force", "missing"):
        return people
    in_force = Consent.objects.active().filter(purpose=purpose).values("participant_id")
    if wanted == "in_force":
        return people.filter(pk__in=in_force)
    return people.exclude(pk__in=in_force)


# --- Groups, sessions, staff -------------------------------------------------------------------


def search_groups(user, query: str, *, roles=None) -> QuerySet:
    groups = SupportGroup.objects.for_user(user, roles=roles)
    query = query.strip()
    if query:
        groups = groups.filter(name__icontains=query)
    return groups.order_by("name", "pk")


DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m", "%d/%m/%Y")


def parse_day(query: str) -> datetime.date | None:
    for fmt in DATE_FORMATS:
        try:
            day = datetime.datetime.strptime(query.strip(), fmt).date()
        except ValueError:
            continue
        if fmt == "%d.%m":
            day = day.replace(year=timezone.localdate().year)
        return day
    return None


def search_sessions(user, query: str, *, roles=None) -> QuerySet:
    """Sessions on a typed date ("2026-12-08", "8.12"), or of groups whose name matches, the
    coming ones first; "name #3" narrows to the third session."""
    sessions = Session.objects.for_user(user, roles=roles).select_related("group")
    query = query.strip()
    day = parse_day(query) if query else None
    if day is not None:
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
        return sessions.filter(
            starts_at__gte=start, starts_at__lt=start + datetime.timedelta(days=1)
        ).order_by("starts_at", "pk")
    number = re.search(r"#\s*(\d+)\s*$", query)
    if number:
        sessions = sessions.filter(sequence=int(number.group(1)))
        query = query[: number.start()].strip()
    if query:
        sessions = sessions.filter(group__name__icontains=query)
    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return sessions.filter(starts_at__gte=start_of_day).order_by("starts_at", "pk")


def search_staff(institution, query: str):
    """Facilitators and admins of one institution (those who can lead a group)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(
        memberships__institution=institution,
        memberships__is_active=True,
        memberships__role__in=[Role.ADMIN, Role.FACILITATOR],
    )
    query = query.strip()
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
        )
    return users.order_by("first_name", "last_name", "username", "pk").distinct()
