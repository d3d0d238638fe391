"""Erasure of a participant from the generated reports (called by participant_erase).

Reports about the person (their access export, attendance certificates) are removed; reports
that list them among others (sign-in sheets, group registers) are made again, so they show
the pseudonymous code — their figures do not change. Files go only once the erasure commits.
"""

from django.db import transaction

from .models import ReportRun
from .services import enqueue_render

ABOUT_ONE_PERSON = (ReportRun.Type.PARTICIPANT_EXPORT, ReportRun.Type.ATTENDANCE_CERTIFICATE)
LISTING_MEMBERS = (ReportRun.Type.SIGN_IN_SHEET, ReportRun.Type.GROUP_REGISTER)
ERASED = "Removed: the participant's data was erased."


def _delete_after_commit(files: list) -> None:
    def delete():
        for storage, name in files:
            storage.delete(name)

    if files:
        transaction.on_commit(delete)


def reports_forget_participant(*, participant) -> dict:
    from attendance.models import Enrollment
    from sessions.models import Session

    runs = ReportRun.objects.filter(institution_id=participant.institution_id).select_for_update()
    files = []
    removed = remade = 0
    for run in runs.filter(type__in=ABOUT_ONE_PERSON, parameters__participant=participant.pk):
        if run.file:
            files.append((run.file.storage, run.file.name))
        run.file = ""
        run.sha256 = ""
        run.certificate_facts = {}
        run.status = ReportRun.Status.FAILED
        run.error = ERASED
        run.save()
        removed += 1
    groups = list(
        Enrollment.objects.filter(participant=participant).values_list("group_id", flat=True)
    )
    sessions = list(Session.objects.filter(group_id__in=groups).values_list("pk", flat=True))
    listing = runs.filter(type__in=LISTING_MEMBERS, status=ReportRun.Status.READY).filter(
        parameters__group__in=groups
    ) | runs.filter(
        type__in=LISTING_MEMBERS, status=ReportRun.Status.READY, parameters__session__in=sessions
    )
    for run in listing:
        if run.file:
            files.append((run.file.storage, run.file.name))
        run.file = ""
        run.sha256 = ""
        run.status = ReportRun.Status.PENDING
        run.save()
        enqueue_render(run)
        remade += 1
    _delete_after_commit(files)
    return {"reports_removed": removed, "reports_remade": remade}
