"""Today: my sessions today and this week, follow-ups and waiting-list offers that need me."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, Value
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from attendance.models import Enrollment, FollowUpTask
from attendance.services import follow_up_resolve
from clinics.roles import CLINICAL_ROLES
from sessions.models import GroupFacilitator

from ..access import (
    can_work_with_people,
    error_text,
    home_institution,
    sessions_for,
    staff_view,
)
from ..forms import FollowUpForm
from .rules import today_rules_context


def _my_sessions(user):
    """The sessions I lead and the ids of their groups; a user who leads no group and stands
    in for no one (reception) sees the institution's sessions, and None for the groups: all."""
    sessions = sessions_for(user)
    # The groups I facilitate and those where I stand in for someone, in one read.
    rows = (
        GroupFacilitator.objects.filter(user=user)
        .order_by()
        .values_list("group_id", Value(True))
        .union(
            sessions.filter(substitute_facilitator=user)
            .order_by()
            .values_list("group_id", Value(False))
        )
    )
    led, substituted = set(), set()
    for group_id, leads in rows:
        (led if leads else substituted).add(group_id)
    if not led and not substituted:
        return sessions, None
    return sessions.facilitated_by(user, groups=sorted(led)), sorted(led | substituted)


@staff_view
def today(request):
    user = request.user
    institution = home_institution(user)
    if institution is not None and not can_work_with_people(user, institution):
        # Auditors work with aggregate reports only.
        return redirect("staff:reports")
    now = timezone.localtime()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end_of_day = start_of_day + datetime.timedelta(days=1)
    end_of_week = start_of_day + datetime.timedelta(days=7 - start_of_day.weekday())
    sessions, my_group_ids = _my_sessions(user)
    # Today and the rest of the week in one read.
    sessions = list(
        sessions.select_related("group", "room").filter(
            starts_at__gte=start_of_day, starts_at__lt=end_of_week
        )
    )
    today_sessions = [s for s in sessions if s.starts_at < end_of_day]
    week_sessions = [s for s in sessions if s.starts_at >= end_of_day]
    # My groups as literal ids (or, for reception, every group of the institution): the open
    # follow-ups are then read from the institution's own tasks, not by joining every
    # institution's enrollments (docs/benchmarks.md).
    mine = Q() if my_group_ids is None else Q(group_id__in=my_group_ids)
    follow_ups = (
        FollowUpTask.objects.for_user(user, roles=CLINICAL_ROLES)
        .filter(status=FollowUpTask.Status.OPEN)
        .select_related("enrollment__participant", "enrollment__group", "trigger_session")
    )
    if my_group_ids is not None:
        follow_ups = follow_ups.filter(
            Q(assigned_to=user) | Q(enrollment__group_id__in=my_group_ids)
        )
    waiting = (
        Enrollment.objects.for_user(user, roles=CLINICAL_ROLES)
        .filter(mine, status=Enrollment.Status.WAITLISTED)
        .select_related("participant", "group")
        .order_by("group__name", "waitlisted_at", "id")
    )
    return render(
        request,
        "staff/today.html",
        {
            "nav": "today",
            "now": now,
            "today_sessions": today_sessions,
            "week_sessions": week_sessions,
            "follow_ups": follow_ups,
            "waiting": waiting,
            "follow_up_form": FollowUpForm(),
            **today_rules_context(user),
        },
    )


@staff_view
@require_POST
def follow_up_done(request, pk):
    task = get_object_or_404(FollowUpTask.objects.for_user(request.user), pk=pk)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            follow_up_resolve(task=task, by=request.user, outcome=form.cleaned_data["outcome"])
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("The follow-up is done."))
    else:
        messages.error(request, _("Say what came of the follow-up."))
    return redirect("staff:today")
