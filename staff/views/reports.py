"""Reports: request one, watch it render (the page looks again by itself), download it."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from clinics.models import Participant
from reports.models import ReportRun
from reports.services import PARAMETERS, report_download, report_request
from sessions.models import Session, SupportGroup

from ..access import add_service_errors, home_institution, report_types_for, staff_view
from ..forms import DateInput, StaffForm
from ..widgets import SearchChoiceField, participant_label, session_label

LANGUAGES = [
    ("pl", gettext_lazy("Polish")),
    ("en", gettext_lazy("English")),
    ("ar", gettext_lazy("Arabic")),
]


class ReportForm(StaffForm):
    """The fields one report type needs, and nothing else."""

    language = forms.ChoiceField(label=gettext_lazy("Language of the report"), choices=LANGUAGES)

    def __init__(self, *args, report_type, user, **kwargs):
        super().__init__(*args, **kwargs)
        names = PARAMETERS[report_type]
        if "session" in names:
            self.fields["session"] = SearchChoiceField(
                label=gettext_lazy("Session"),
                help_text=gettext_lazy("Type the group's name or a date (2026-12-08)."),
                queryset=Session.objects.for_user(user)
                .exclude(status=Session.Status.CANCELLED)
                .select_related("group"),
                url_name="staff:search_sessions",
                label_from=session_label,
            )
        if "group" in names:
            self.fields["group"] = SearchChoiceField(
                label=gettext_lazy("Group"),
                queryset=SupportGroup.objects.for_user(user),
                url_name="staff:search_groups",
                label_from=lambda g: g.name,
            )
        if "participant" in names:
            self.fields["participant"] = SearchChoiceField(
                label=gettext_lazy("Participant"),
                help_text=gettext_lazy("Type a code, an alias or a name."),
                queryset=Participant.objects.for_user(user).not_erased(),
                url_name="staff:search_participants",
                label_from=participant_label,
            )
        if "recipient" in names:
            self.fields["recipient"] = forms.CharField(
                label=gettext_lazy("Recipient"),
                max_length=200,
                help_text=gettext_lazy(
                    "The court, probation officer, employer or programme named in the "
                    "participant's disclosure consent."
                ),
            )
        if "start" in names:
            self.fields["start"] = forms.DateField(label=gettext_lazy("From"), widget=DateInput())
            self.fields["end"] = forms.DateField(label=gettext_lazy("To"), widget=DateInput())

    def parameters(self, institution) -> dict:
        data = self.cleaned_data
        params = {}
        for name, value in data.items():
            if name == "language":
                continue
            if hasattr(value, "pk"):
                value = value.pk
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            params[name] = value
        if "institution" in self.report_names:
            params["institution"] = institution.pk if institution else None
        return params


@staff_view
def report_list(request):
    user = request.user
    institution = home_institution(user)
    report_type = request.GET.get("type") or request.POST.get("type")
    allowed = report_types_for(user, institution)
    form = None
    if report_type in allowed:
        initial = {"language": get_language()[:2]}
        for name in ("session", "group", "participant"):
            if request.GET.get(name):
                initial[name] = request.GET[name]
        form = ReportForm(request.POST or None, report_type=report_type, user=user, initial=initial)
        form.report_names = PARAMETERS[report_type]
        if request.method == "POST" and form.is_valid():
            try:
                run = report_request(
                    type=report_type,
                    parameters=form.parameters(institution),
                    language=form.cleaned_data["language"],
                    by=user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                # Without a broker the report was made during this request: say what is true.
                run.refresh_from_db(fields=["status"])
                if run.status == ReportRun.Status.READY:
                    messages.success(request, _("The report is ready."))
                elif run.status != ReportRun.Status.FAILED:
                    messages.success(request, _("The report is on its way."))
                return redirect("staff:report", run.pk)
    runs = ReportRun.objects.for_user(user).order_by("-created_at")[:50]
    return render(
        request,
        "staff/reports.html",
        {
            "nav": "reports",
            "runs": runs,
            "types": [
                (value, label) for value, label in ReportRun.Type.choices if value in allowed
            ],
            "report_type": report_type,
            "type_label": dict(ReportRun.Type.choices).get(report_type),
            "form": form,
        },
        status=400 if form is not None and form.errors else 200,
    )


@staff_view
def report_detail(request, pk):
    run = get_object_or_404(ReportRun.objects.for_user(request.user), pk=pk)
    pending = run.status in (ReportRun.Status.PENDING, ReportRun.Status.RUNNING)
    return render(request, "staff/report.html", {"nav": "reports", "run": run, "pending": pending})


@staff_view
def report_file(request, pk):
    run = get_object_or_404(ReportRun.objects.for_user(request.user), pk=pk)
    try:
        handle = report_download(run=run, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("staff:report", run.pk)
    return FileResponse(
        handle, as_attachment=True, filename=run.filename, content_type="application/pdf"
    )
