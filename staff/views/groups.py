"""Groups: the list, one group (members, waiting list, sessions, rates, chart), creating a group
with its schedule, and the membership actions."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from attendance.models import Consent, Enrollment
from attendance.querysets import WAITLIST_ORDER
from attendance.services import (
    enrollment_admit,
    enrollment_complete,
    enrollment_offer_seat,
    enrollment_waitlist,
    enrollment_withdraw,
    seats_taken,
)
from clinics.models import Room
from clinics.roles import Role, role_of
from sessions.models import GroupFacilitator, SupportGroup
from sessions.services import group_facilitator_set, group_update

from ..access import (
    add_service_errors,
    can_plan,
    can_work_with_people,
    clinical_institutions,
    error_text,
    get_group,
    home_institution,
    participants_for,
    report_types_for,
    staff_view,
)
from ..forms import AddMemberForm, FacilitatorForm, GroupEditForm, GroupForm, ScheduleForm
from ..services import ScheduleRefused, group_create_with_schedule, member_add
from ..stats import member_rates, session_chart, sessions_with_counts

# The consents shown at a glance next to each member, with short column headings.
CONSENT_COLUMNS = {
    Consent.Purpose.PARTICIPATION: gettext_lazy("Participation"),
    Consent.Purpose.HEALTH_DATA: gettext_lazy("Health data"),
    Consent.Purpose.CONTACT: gettext_lazy("Reminders"),
    Consent.Purpose.DISCLOSURE: gettext_lazy("Disclosure"),
}


@staff_view
def group_list(request):
    """The institution's groups. Auditors see them too (as in the calendar), without members:
    their rows lead to the group's sessions in the calendar, not to the group's page."""
    user = request.user
    institution = home_institution(user)
    clinical = institution is not None and can_work_with_people(user, institution)
    groups = SupportGroup.objects.for_user(user).order_by("status", "name")
    if clinical:
        groups = groups.annotate(
            members=Count("enrollments", filter=Q(enrollments__status="active"))
        )
    return render(
        request,
        "staff/groups.html",
        {
            "nav": "groups",
            "groups": groups,
            "clinical": clinical,
            "can_plan": institution is not None and can_plan(user, institution),
            "can_summarise": "activity_summary" in report_types_for(user, institution),
        },
    )


def _facilitator_users(institution):
    return (
        get_user_model()
        .objects.filter(
            memberships__institution=institution,
            memberships__is_active=True,
            memberships__role__in=[Role.ADMIN, Role.FACILITATOR],
        )
        .order_by("first_name", "username")
    )


def _group_context(request, group, **forms):
    user = request.user
    now = timezone.now()
    # Members, the waiting list and the referred in one read, each in its own order below.
    # Read in the waiting list's own order, so the waiting keep it when picked out below.
    open_enrollments = list(
        group.enrollments.open().select_related("participant").order_by(*WAITLIST_ORDER)
    )
    members = sorted(
        (e for e in open_enrollments if e.status == Enrollment.Status.ACTIVE),
        key=lambda e: e.participant.number,
    )
    waiting = [e for e in open_enrollments if e.status == Enrollment.Status.WAITLISTED]
    referred = [e for e in open_enrollments if e.status == Enrollment.Status.REFERRED]
    participant_ids = [e.participant_id for e in members]
    active = Consent.objects.active().filter(participant_id__in=participant_ids)
    consents: dict[int, set] = {}
    for participant_id, purpose, consent_group in active.values_list(
        "participant_id", "purpose", "group_id"
    ):
        if purpose == Consent.Purpose.PARTICIPATION and consent_group not in (None, group.pk):
            continue
        consents.setdefault(participant_id, set()).add(purpose)
    rates = member_rates(group)
    purposes = dict(Consent.Purpose.choices)
    member_rows = [
        {
            "enrollment": e,
            "participant": e.participant,
            "consents": [
                (purpose, label, purpose in consents.get(e.participant_id, set()))
                for purpose, label in CONSENT_COLUMNS.items()
            ],
            "rate": rates.get(e.participant_id),
        }
        for e in members
    ]
    # Every session with its counts: the lists below and the chart read the same rows.
    # Only what the lists and the chart show: a group of two years has a hundred sessions.
    sessions = list(
        sessions_with_counts(group)
        .select_related("room")
        .only("pk", "group_id", "sequence", "starts_at", "ends_at", "status", "room__name")
    )
    taken = seats_taken(group)
    planner = can_plan(user, group.institution_id)
    add_member_form = forms.get("add_member_form") or AddMemberForm(
        participants=_candidates(user, group),
        group=group,
        initial={"then": "admit", "referral_source": Enrollment.ReferralSource.SELF},
    )
    return {
        "nav": "groups",
        "group": group,
        "facilitators": group.facilitator_roles.select_related("user"),
        "member_rows": member_rows,
        "consent_columns": [(p, label, purposes[p]) for p, label in CONSENT_COLUMNS.items()],
        "waiting": waiting,
        "referred": referred,
        "past": [s for s in reversed(sessions) if s.starts_at < now],
        "future": [s for s in sessions if s.starts_at >= now],
        "now": now,
        "chart": session_chart(group, sessions=sessions),
        "seats_taken": taken,
        "seats_free": max(group.capacity - taken, 0),
        "can_plan": planner,
        "is_admin": role_of(user, group.institution_id) == Role.ADMIN,
        "add_member_form": add_member_form,
        "facilitator_form": forms.get("facilitator_form")
        or FacilitatorForm(
            users=_facilitator_users(group.institution), institution=group.institution
        ),
        "action_errors": forms.get("action_errors", {}),
    }


def _candidates(user, group):
    """Participants of the institution who are not already in, waiting for or referred to it."""
    already = group.enrollments.open().values("participant_id")
    return (
        participants_for(user)
        .filter(institution=group.institution_id)
        .not_erased()
        .exclude(pk__in=already)
        .order_by("number")
    )


@staff_view
def group_detail(request, pk):
    group = get_group(request.user, pk)
    return render(request, "staff/group.html", _group_context(request, group))


@staff_view
@require_POST
def group_add_member(request, pk):
    group = get_group(request.user, pk)
    form = AddMemberForm(request.POST, participants=_candidates(request.user, group), group=group)
    if form.is_valid():
        try:
            enrollment = member_add(
                group=group,
                participant=form.cleaned_data["participant"],
                by=request.user,
                referral_source=form.cleaned_data["referral_source"],
                then=form.cleaned_data["then"],
            )
        except ValidationError as exc:
            then = form.cleaned_data["then"]
            if then == "admit" and _refused_for_want_of_a_seat_too(group, exc):
                form.add_error("then", _full_group_message(group))
            # A closed group's refusal of a late joiner (and the like) belongs to the person.
            if hasattr(exc, "error_dict"):
                add_service_errors(form, exc)
            else:
                for message in exc.messages:
                    form.add_error("participant", message)
        else:
            messages.success(request, _added_message(enrollment))
            return redirect("staff:group", group.pk)
    return render(
        request,
        "staff/group.html",
        _group_context(request, group, add_member_form=form),
        status=400,
    )


def _refused_for_want_of_a_seat_too(group, exc: ValidationError) -> bool:
    """The group is full but the service named another reason first (a missing consent):
    the user is told about the seats as well, so that a consent alone is not expected to do."""
    own = _("The group is full (%(capacity)s seats).") % {"capacity": group.capacity}
    return seats_taken(group) >= group.capacity and own not in exc.messages


def _full_group_message(group) -> str:
    return _(
        "The group is full (%(c)s of %(c)s seats taken): put the person on the waiting list, "
        "or end a membership first."
    ) % {"c": group.capacity}


def _added_message(enrollment) -> str:
    """Say what actually happened: admitted, waiting (at which place) or referred."""
    alias = enrollment.participant.alias
    if enrollment.status == Enrollment.Status.ACTIVE:
        return _("%(alias)s is admitted to the group.") % {"alias": alias}
    if enrollment.status == Enrollment.Status.WAITLISTED:
        place = (
            enrollment.group.enrollments.waitlist()
            .filter(waitlisted_at__lte=enrollment.waitlisted_at)
            .count()
        )
        return _("%(alias)s is on the waiting list, at place %(n)s.") % {
            "alias": alias,
            "n": place,
        }
    return _("%(alias)s is recorded as referred to the group.") % {"alias": alias}


@staff_view
@require_POST
def enrollment_action(request, pk, enrollment, verb):
    group = get_group(request.user, pk)
    enrollment = get_object_or_404(group.enrollments.all(), pk=enrollment)
    reason = request.POST.get("reason", "")
    try:
        if verb == "admit":
            override = request.POST.get("override") == "1"
            enrollment_admit(enrollment=enrollment, by=request.user, override=override)
            done = _("Admitted.")
        elif verb == "offer":
            enrollment_offer_seat(enrollment=enrollment, by=request.user)
            done = _("The seat is offered and held for 72 hours.")
        elif verb == "waitlist":
            enrollment_waitlist(enrollment=enrollment, by=request.user)
            done = _("Put on the waiting list.")
        elif verb == "withdraw":
            enrollment_withdraw(enrollment=enrollment, by=request.user, reason=reason)
            done = _("The membership has ended.")
        elif verb == "complete":
            enrollment_complete(enrollment=enrollment, by=request.user, reason=reason)
            done = _("Recorded as completed.")
        else:
            raise Http404
    except ValidationError as exc:
        error = error_text(exc)
        if verb == "admit" and _refused_for_want_of_a_seat_too(group, exc):
            error = f"{_full_group_message(group)} {error}"
        context = _group_context(request, group, action_errors={enrollment.pk: error})
        return render(request, "staff/group.html", context, status=400)
    messages.success(request, done)
    return redirect("staff:group", group.pk)


@staff_view
@require_POST
def group_facilitator(request, pk):
    group = get_group(request.user, pk)
    if not can_plan(request.user, group.institution_id):
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s")
            % {"action": _("change a group's facilitators")}
        )
    form = FacilitatorForm(
        request.POST, users=_facilitator_users(group.institution), institution=group.institution
    )
    if form.is_valid():
        try:
            group_facilitator_set(
                group=group,
                user=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
                by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The group's facilitators are updated."))
            return redirect("staff:group", group.pk)
    return render(
        request,
        "staff/group.html",
        _group_context(request, group, facilitator_form=form),
        status=400,
    )


@staff_view
def group_new(request):
    """Create a group and its schedule in one form; nothing is created if any part is refused."""
    institution = clinical_institutions(request.user).order_by("pk").first()
    if institution is None:
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": _("create groups")}
        )
    if not can_plan(request.user, institution):
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": _("create groups")}
        )
    rooms = Room.objects.for_institution(institution).filter(is_active=True)
    users = _facilitator_users(institution)
    data = request.POST or None
    group_form = GroupForm(
        data, rooms=rooms, prefix="g", initial={"language": institution.language}
    )
    schedule_form = ScheduleForm(data, prefix="s")
    lead_default = request.user.pk if users.filter(pk=request.user.pk).exists() else None
    lead_form = FacilitatorForm(
        data,
        users=users,
        institution=institution,
        prefix="f",
        initial={"user": lead_default, "role": GroupFacilitator.Role.LEAD},
    )
    if request.method == "POST" and all(
        [group_form.is_valid(), schedule_form.is_valid(), lead_form.is_valid()]
    ):
        g = group_form.cleaned_data
        s = schedule_form.cleaned_data
        try:
            group, sessions = group_create_with_schedule(
                institution=institution,
                by=request.user,
                facilitators=[(lead_form.cleaned_data["user"], lead_form.cleaned_data["role"])],
                group_fields={
                    "name": g["name"],
                    "category": g["category"],
                    "membership_mode": g["membership_mode"],
                    "entry_points": g["entry_points"],
                    "capacity": g["capacity"],
                    "min_size": g["min_size"],
                    "default_room": g["default_room"],
                    "online_link": g["online_link"],
                    "language": g["language"],
                    "ground_rules": g["ground_rules"],
                    "description": g["description"],
                    "starts_on": g["starts_on"],
                    "ends_on": g["ends_on"],
                    "status": SupportGroup.Status.PLANNED,
                },
                schedule={
                    "weekdays": s["weekdays"],
                    "start_time": s["start_time"],
                    "duration_minutes": s["duration_minutes"],
                    "interval_weeks": s["interval_weeks"],
                    "starts_on": s["first_date"],
                    "until": s["until"],
                    "count": s["count"],
                    "skip_dates": s["skip_dates"],
                    "room": g["default_room"],
                    "online_link": g["online_link"],
                },
            )
        except ScheduleRefused as refused:
            add_service_errors(
                schedule_form, refused.error, {"starts_on": "first_date", "starts_at": "first_date"}
            )
        except ValidationError as exc:
            errors = getattr(exc, "error_dict", {"__all__": exc.error_list})
            for field, field_errors in errors.items():
                form = lead_form if field in ("user", "role") else group_form
                for error in field_errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(
                request,
                _("The group is created with %(n)s sessions.") % {"n": len(sessions)},
            )
            return redirect("staff:group", group.pk)
    return render(
        request,
        "staff/group_new.html",
        {
            "nav": "groups",
            "group_form": group_form,
            "schedule_form": schedule_form,
            "lead_form": lead_form,
        },
        status=400 if request.method == "POST" else 200,
    )


@staff_view
def group_edit(request, pk):
    group = get_group(request.user, pk)
    if not can_plan(request.user, group.institution_id):
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": _("change groups")}
        )
    rooms = Room.objects.for_institution(group.institution).filter(is_active=True)
    initial = {name: getattr(group, name, None) for name in GroupEditForm.base_fields}
    initial["default_room"] = group.default_room_id
    initial["entry_points"] = ", ".join(map(str, group.entry_points))
    form = GroupEditForm(request.POST or None, rooms=rooms, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            group_update(group=group, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("staff:group", group.pk)
    return render(
        request,
        "staff/group_edit.html",
        {"nav": "groups", "group": group, "form": form},
        status=400 if form.errors else 200,
    )
