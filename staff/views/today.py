"""Today: my sessions today and this week, follow-ups and waiting-list offers that need me."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from attendance.models import Enrollment, FollowUpTask
from attendance.services import follow_up_resolve

from ..access import (
    can_work_with_people,
    error_text,
    groups_for,
    home_institution,
    sessions_for,
    staff_view,
)
from ..forms import FollowUpForm
from .rules import today_rules_context


def _my_sessions(user):
    """The sessions I lead; a user who leads no group (reception) sees the institution's."""
    sessions = sessions_for(user)
    mine = sessions.facilitated_by(user)
    return mine if mine.exists() else sessions


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
    sessions = _my_sessions(user).select_related("group", "room")
    today_sessions = sessions.filter(starts_at__gte=start_of_day, starts_at__lt=end_of_day)
    week_sessions = sessions.filter(starts_at__gte=end_of_day, starts_at__lt=end_of_week)
    my_groups = groups_for(user).filter(
        Q(facilitator_roles__user=user) | Q(pk__in=sessions.values("group_id"))
    )
    follow_ups = (
        FollowUpTask.objects.for_user(user)
        .filter(status=FollowUpTask.Status.OPEN)
        .filter(Q(assigned_to=user) | Q(enrollment__group__in=my_groups))
        .select_related("enrollment__participant", "enrollment__group", "trigger_session")
        .distinct()
    )
    waiting = (
        Enrollment.objects.for_user(user)
        .filter(status=Enrollment.Status.WAITLISTED, group__in=my_groups)
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
