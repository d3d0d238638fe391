"""Spreadsheets: institution admins upload a list of participants or a group's past attendance,
read every problem by row and column, and import a clean file (a large one in the background,
with a progress bar); everyone who works with participants' records downloads the participant
list and a group's register as CSV or XLSX. The services decide; this module only asks."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clinics.models import Institution, StaffMembership
from imports.export import export_participants, export_register
from imports.models import ImportJob
from imports.policies import can_import
from imports.services import import_apply, import_progress, import_upload
from sessions.models import SupportGroup

from ..access import add_service_errors, groups_for, home_institution, staff_view
from ..forms import DateInput, StaffForm

ADMIN = StaffMembership.Role.ADMIN
FORMAT_CHOICES = [("xlsx", "XLSX"), ("csv", "CSV")]


class ImportForm(StaffForm):
    kind = forms.ChoiceField(
        label=gettext_lazy("The file holds"),
        choices=ImportJob.Kind.choices,
        widget=forms.RadioSelect,
        initial=ImportJob.Kind.PARTICIPANTS,
    )
    group = forms.ModelChoiceField(
        label=gettext_lazy("Group (for attendance)"),
        queryset=SupportGroup.objects.none(),
        required=False,
    )
    file = forms.FileField(
        label=gettext_lazy("CSV or XLSX file"),
        help_text=gettext_lazy(
            "The first row names the columns, in English or Polish (see the sample files). "
            "Nothing is imported until every row is clean."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = SupportGroup.objects.for_user(user, roles=[ADMIN])


class RegisterExportForm(StaffForm):
    group = forms.ModelChoiceField(
        label=gettext_lazy("Group"), queryset=SupportGroup.objects.none()
    )
    start = forms.DateField(label=gettext_lazy("From"), widget=DateInput())
    end = forms.DateField(label=gettext_lazy("To"), widget=DateInput())
    file_format = forms.ChoiceField(label=gettext_lazy("Format"), choices=FORMAT_CHOICES)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups_for(user)


def _jobs(user):
    return ImportJob.objects.for_user(user, roles=[ADMIN]).select_related("group")


def _page(request, *, form=None, register_form=None, status=200):
    user = request.user
    institution = home_institution(user)
    may_import = institution is not None and can_import(user, institution)
    today = timezone.localdate()
    return render(
        request,
        "staff/imports/list.html",
        {
            "nav": "imports",
            "may_import": may_import,
            "form": form or (ImportForm(user=user) if may_import else None),
            "register_form": register_form
            or RegisterExportForm(user=user, initial={"start": today.replace(day=1), "end": today}),
            "jobs": _jobs(user)[:20] if may_import else [],
        },
        status=status,
    )


@staff_view
def import_list(request):
    user = request.user
    if request.method != "POST":
        return _page(request)
    form = ImportForm(request.POST, request.FILES, user=user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = import_upload(
                kind=data["kind"],
                group=data["group"],
                institution=home_institution(user) if data["group"] is None else None,
                file=data["file"],
                by=user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("staff:import", job.pk)
    return _page(request, form=form, status=400)


@staff_view
def import_detail(request, pk):
    job = get_object_or_404(_jobs(request.user).select_related("institution"), pk=pk)
    progress = import_progress(job)
    running = job.status == ImportJob.Status.RUNNING
    return render(
        request,
        "staff/imports/detail.html",
        {
            "nav": "imports",
            "job": job,
            "running": running,
            "checking": job.status == ImportJob.Status.CHECKING,
            "progress": progress,
            "more_problems": job.problem_count - len(job.problems),
        },
    )


@require_POST
@staff_view
def import_apply_view(request, pk):
    job = get_object_or_404(_jobs(request.user), pk=pk)
    try:
        job = import_apply(job=job, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        if job.status == ImportJob.Status.DONE:
            messages.success(request, _("The file has been imported."))
        elif job.status == ImportJob.Status.INVALID:
            messages.error(request, _("Nothing was imported: the file has problems now."))
    return redirect("staff:import", pk)


def _attachment(export) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@staff_view
def export_participants_view(request):
    user = request.user
    institution = get_object_or_404(
        Institution.objects.for_user(user), pk=getattr(home_institution(user), "pk", None)
    )
    file_format = request.GET.get("file_format", "xlsx")
    try:
        export = export_participants(institution=institution, by=user, file_format=file_format)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("staff:imports")
    return _attachment(export)


@staff_view
def export_register_view(request):
    user = request.user
    form = RegisterExportForm(request.GET, user=user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            return _attachment(
                export_register(
                    group=data["group"],
                    start=data["start"],
                    end=data["end"],
                    by=user,
                    file_format=data["file_format"],
                )
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _page(request, register_form=form, status=400)


# Included by staff/urls.py, in the staff namespace.
urlpatterns = [
    path("imports/", import_list, name="imports"),
    path("imports/<int:pk>/", import_detail, name="import"),
    path("imports/<int:pk>/apply/", import_apply_view, name="import_apply"),
    path("imports/export/participants/", export_participants_view, name="export_participants"),
    path("imports/export/register/", export_register_view, name="export_register"),
]
