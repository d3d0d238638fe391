"""What the business does with reports: request one, render it once, hand it over, send the
monthly summary."""

import datetime
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.models import Institution, Participant, StaffMembership
from sessions.models import Session, SupportGroup

from . import privacy
from .builders import build
from .labels import LANGUAGES, labels_for
from .models import ReportRun
from .rendering import render_pdf

logger = logging.getLogger(__name__)

Type = ReportRun.Type
Status = ReportRun.Status

# Errors worth another try: the database or the storage was briefly unavailable. Anything
# else (a missing row, a withdrawn consent, a template error) fails the run with its reason.
TRANSIENT_ERRORS = (OperationalError, ConnectionError, TimeoutError)
MAX_PERIOD_DAYS = 366

# The parameters of each type, as SPEC.md names them, in the order they are checked.
PARAMETERS = {
    Type.SIGN_IN_SHEET: ("session",),
    Type.GROUP_REGISTER: ("group", "start", "end"),
    Type.ACTIVITY_SUMMARY: ("institution", "start", "end"),
    Type.ATTENDANCE_CERTIFICATE: ("participant", "group", "recipient", "start", "end"),
    Type.PARTICIPANT_EXPORT: ("participant",),
}
SCOPED_MODELS = {
    "session": Session,
    "group": SupportGroup,
    "institution": Institution,
    "participant": Participant,
}


def _clean_parameters(report_type: str, parameters: dict, by) -> tuple[dict, dict]:
    """Check the parameters of one report type; returns (clean JSON-able params, objects).

    An object of another institution is reported exactly like a missing one.
    """
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": _("Parameters must be an object.")})
    errors, clean, objects = {}, {}, {}
    expected = PARAMETERS[report_type]
    for name in expected:
        value = parameters.get(name)
        if value in (None, ""):
            errors[name] = _("This parameter is required.")
            continue
        if name in SCOPED_MODELS:
            model = SCOPED_MODELS[name]
            try:
                objects[name] = model.objects.for_user(by).get(pk=int(value))
            except (TypeError, ValueError, ObjectDoesNotExist):
                errors[name] = _("No such %(name)s.") % {"name": name}
                continue
            clean[name] = objects[name].pk
        elif name in ("start", "end"):
            try:
                clean[name] = datetime.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                errors[name] = _("Enter a date as YYYY-MM-DD.")
        elif "\x00" in str(value):  # PostgreSQL's text refuses NUL: say so, do not fail
            errors[name] = _("This parameter holds a character that is not allowed.")
        else:
            clean[name] = str(value).strip()[:200]
    unknown = set(parameters) - set(expected)
    if unknown:
        errors["unknown"] = _("Unknown parameters: %(names)s.") % {
            "names": ", ".join(sorted(unknown))
        }
    if not errors and "start" in clean:
        start = datetime.date.fromisoformat(clean["start"])
        end = datetime.date.fromisoformat(clean["end"])
        if end < start:
            errors["end"] = _("The end of the period is before its start.")
        elif (end - start).days >= MAX_PERIOD_DAYS:
            errors["end"] = _("A report covers at most a year.")
    if errors:
        raise ValidationError(errors)
    institutions = {getattr(obj, "institution_id", obj.pk) for obj in objects.values()}
    if len(institutions) > 1:
        raise ValidationError(_("The parameters belong to different institutions."))
    return clean, objects


def _institution_of(objects: dict) -> Institution:
    obj = next(iter(objects.values()))
    return obj if isinstance(obj, Institution) else obj.institution


@transaction.atomic
def report_request(*, type: str, parameters: dict, by, language: str | None = None) -> ReportRun:  # noqa: A002
    """Ask for a report: check the parameters, the role and (certificates) the consent, then
    queue its rendering once the request's transaction has committed."""
    if type not in Type.values:
        raise ValidationError({"type": _("Unknown report type “%(type)s”.") % {"type": type}})
    if language not in (None, "", *LANGUAGES):
        raise ValidationError({"language": _("Reports are made in pl, en or ar.")})
    clean, objects = _clean_parameters(type, parameters, by)
    institution = _institution_of(objects)
    privacy.check_may_request(
        user=by, institution=institution, report_type=type, group=objects.get("group")
    )
    if type == Type.ATTENDANCE_CERTIFICATE:
        if objects["group"].institution_id != objects["participant"].institution_id:
            raise ValidationError({"group": _("No such group.")})
        privacy.check_certificate_consent(
            participant=objects["participant"], recipient=clean["recipient"]
        )
    run = ReportRun.objects.create(
        institution=institution,
        type=type,
        language=language or institution.language,
        parameters=clean,
        requested_by=by,
        verification_code=_new_code() if type == Type.ATTENDANCE_CERTIFICATE else None,
    )
    # A certificate's recipient is free text (a court, an employer): it stays on the run.
    audited = {k: v for k, v in clean.items() if k != "recipient"}
    audit_record(
        actor=by,
        action="report.request",
        obj=run,
        details={"type": type, "parameters": audited, "language": run.language}
        | ({"fields": ["parameters.recipient"]} if "recipient" in clean else {}),
    )
    if type == Type.PARTICIPANT_EXPORT:
        # An access export reads the whole record: the participant's log shows it.
        audit_record(actor=by, action="participant.export", obj=objects["participant"])
    enqueue_render(run)
    return run


def _new_code() -> str:
    """A certificate's public code: 60 random bits, in groups easy to read out on the phone."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def enqueue_render(run: ReportRun) -> None:
    """Queue the rendering once the request's transaction has committed.

    `robust` and without Kombu's publish retries: a broker that is down must neither fail the
    request that committed the run (it answers 202 with the run pending) nor hold it; the
    sweep (`reports_sweep`) hands the run over when the broker is back.
    """
    pk = run.pk

    # A named function, not a lambda: Django logs a robust callback's failure by its name.
    def publish_report_run():
        _publish(pk)

    transaction.on_commit(publish_report_run, robust=True)


def _publish(run_id: int, countdown: float | None = None) -> None:
    from .tasks import render_report

    render_report.apply_async((run_id,), countdown=countdown, retry=False)


def _abandoned_before(now) -> datetime.datetime:
    """A run RUNNING since before this belongs to a dead worker: the hard time limit stops a
    live one sooner."""
    return now - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


# A pending run older than this has probably lost its task (a broker down at the request, a
# message dropped): dispatched again. A duplicate message is harmless, the claim takes it once.
REDISPATCH_AFTER = datetime.timedelta(minutes=5)


def reports_sweep(*, now=None) -> list[int]:
    """The beat's sweep, idempotent: pending runs whose task was lost are dispatched again, and
    runs RUNNING past the time limit (their worker died mid-render) are put back to PENDING
    (audited) and dispatched. Returns the ids dispatched."""
    now = now or timezone.now()
    abandoned = ReportRun.objects.filter(
        status=Status.RUNNING, started_at__lt=_abandoned_before(now)
    )
    for run_id in abandoned.values_list("pk", flat=True):
        with transaction.atomic():
            if ReportRun.objects.filter(
                pk=run_id, status=Status.RUNNING, started_at__lt=_abandoned_before(now)
            ).update(status=Status.PENDING):
                audit_record(
                    actor=None,
                    action="report.reclaimed",
                    obj=ReportRun.objects.get(pk=run_id),
                    details={"reason": "running past the time limit"},
                )
    ids = list(
        ReportRun.objects.filter(
            status=Status.PENDING, created_at__lt=now - REDISPATCH_AFTER
        ).values_list("pk", flat=True)
    )
    for done, run_id in enumerate(ids):
        try:
            _publish(run_id)
        except Exception:  # noqa: BLE001 - the broker still down: the next sweep tries again
            logger.warning("Could not dispatch report run %s; the next sweep will", run_id)
            return ids[:done]
    return ids


def report_busy_for(run_id: int) -> float | None:
    """Seconds until a RUNNING run's claim counts as abandoned (None: it is not running)."""
    started = (
        ReportRun.objects.filter(pk=run_id, status=Status.RUNNING)
        .values_list("started_at", flat=True)
        .first()
    )
    if started is None:
        return None
    return max((started - _abandoned_before(timezone.now())).total_seconds(), 0)


def verify_url(code: str) -> str:
    path = reverse("reports:verify", args=[code])
    base = getattr(settings, "REPORTS_PUBLIC_URL", "").rstrip("/")
    return f"{base}{path}" if base else path


def report_claim(run_id: int) -> bool:
    """Take a pending run for rendering; False if another worker (or an earlier try) has it.

    A run still RUNNING after the task's hard time limit belongs to a worker that died (the
    broker redelivers its message, acks being late): that one may be claimed again.
    """
    now = timezone.now()
    abandoned = _abandoned_before(now)
    claimable = Q(status=Status.PENDING) | Q(status=Status.RUNNING, started_at__lt=abandoned)
    return bool(
        ReportRun.objects.filter(claimable, pk=run_id).update(status=Status.RUNNING, started_at=now)
    )


def report_render(*, run_id: int) -> ReportRun | None:
    """Render a claimed-once run, store its file and checksum, and mark it READY or FAILED.

    A transient error puts the run back to PENDING and is raised again for the task to retry.
    """
    if not report_claim(run_id):
        return None
    run = ReportRun.objects.select_related("institution", "requested_by").get(pk=run_id)
    try:
        if run.verification_code:
            run.parameters = {**run.parameters, "verify_url": verify_url(run.verification_code)}
        built = build(run)
        pdf = render_pdf(built.template, built.context, run.language)
    except TRANSIENT_ERRORS:
        ReportRun.objects.filter(pk=run_id, status=Status.RUNNING).update(status=Status.PENDING)
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure is the run's, with its reason
        logger.exception("Report run %s failed", run_id)
        return report_fail(run_id=run_id, reason=_reason(exc))
    with transaction.atomic():
        run.file.save(run.filename, ContentFile(pdf), save=False)
        run.sha256 = hashlib.sha256(pdf).hexdigest()
        run.status = Status.READY
        run.error = ""
        run.finished_at = timezone.now()
        run.certificate_facts = built.certificate_facts or {}
        run.parameters = {k: v for k, v in run.parameters.items() if k != "verify_url"}
        run.save()
        audit_record(actor=None, action="report.ready", obj=run, details={"sha256": run.sha256})
    return run


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, ObjectDoesNotExist):
        return _("An object the report is about no longer exists.")
    return f"{type(exc).__name__}: {exc}"[:1000]


def report_fail(*, run_id: int, reason: str) -> ReportRun:
    """Mark a run FAILED with the reason a person can act on."""
    with transaction.atomic():
        ReportRun.objects.filter(pk=run_id).update(
            status=Status.FAILED, error=reason, finished_at=timezone.now()
        )
        run = ReportRun.objects.get(pk=run_id)
        audit_record(actor=None, action="report.failed", obj=run, details={"error": reason})
    return run


@transaction.atomic
def report_download(*, run: ReportRun, by):
    """Open a ready report's file for the user; every download is in the audit log."""
    if run.status != Status.READY:
        raise ValidationError(
            _("The report is not ready: it is %(status)s.") % {"status": run.get_status_display()}
        )
    audit_record(actor=by, action="report.download", obj=run, details={"sha256": run.sha256})
    return run.file.open("rb")


# --- The monthly summary ---------------------------------------------------------------------


def month_bounds(month: str | None, today: datetime.date | None = None):
    """(first day, last day) of "YYYY-MM", or of the month before `today`."""
    if month:
        try:
            first = datetime.date.fromisoformat(f"{month}-01")
        except ValueError as exc:
            raise ValidationError(_("Give the month as YYYY-MM.")) from exc
    else:
        today = today or timezone.localdate()
        first = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return first, following - datetime.timedelta(days=1)


def monthly_summary_send(*, institution: Institution, month: str | None = None) -> ReportRun | None:
    """Generate one institution's summary of a month and e-mail it to its admins, once.

    The unique constraint on (institution, scheduled_month) makes a second call for the same
    month a no-op, however many schedulers fire; the e-mail is claimed with a conditional
    UPDATE so that two workers never send it twice.
    """
    first, last = month_bounds(month)
    try:
        with transaction.atomic():
            run = ReportRun.objects.create(
                institution=institution,
                type=Type.ACTIVITY_SUMMARY,
                language=institution.language,
                parameters={
                    "institution": institution.pk,
                    "start": first.isoformat(),
                    "end": last.isoformat(),
                },
                scheduled_month=first,
            )
            audit_record(actor=None, action="report.request", obj=run, details={"scheduled": True})
    except IntegrityError:
        run = ReportRun.objects.get(institution=institution, scheduled_month=first)
    if run.status == Status.PENDING:
        report_render(run_id=run.pk)
        run.refresh_from_db()
    if run.status != Status.READY or run.emailed_at is not None:
        return run
    if not ReportRun.objects.filter(pk=run.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    ):
        return run
    recipients = list(
        StaffMembership.objects.filter(
            institution=institution, role=StaffMembership.Role.ADMIN, is_active=True
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if recipients:
        t = labels_for(run.language)
        message = EmailMessage(
            subject=f"{t['activity_summary']}: {institution.name}, {first:%Y-%m}",
            body=f"{t['activity_summary']}\n{institution.name}\n"
            f"{t['period']}: {first.isoformat()} – {last.isoformat()}\n",
            to=recipients,
        )
        with run.file.open("rb") as handle:
            message.attach(f"summary-{first:%Y-%m}.pdf", handle.read(), "application/pdf")
        try:
            message.send()
        except Exception:
            # Not sent after all: let the next run of the job try again.
            ReportRun.objects.filter(pk=run.pk).update(emailed_at=None)
            raise
        audit_record(
            actor=None,
            action="report.emailed",
            obj=run,
            details={"recipients": len(recipients)},
        )
    return run


def monthly_summaries_send(*, month: str | None = None) -> list[ReportRun]:
    """The monthly job: every institution that asked for the summary gets last month's."""
    month_bounds(month)  # refuse a malformed month before doing anything
    return [
        monthly_summary_send(institution=institution, month=month)
        for institution in Institution.objects.filter(monthly_summary_enabled=True)
    ]
