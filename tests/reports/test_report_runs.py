"""The life of a report run: claimed once, stored with its checksum, failed with a reason,
retried only on transient errors; the static-only fetcher; the monthly summary; the public
certificate check; query counts that do not grow with the rows."""

import datetime
import hashlib

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError
from weasyprint.urls import URLFetcher

from attendance.models import Consent
from attendance.services import consent_withdraw
from reports import builders, rendering
from reports.models import ReportRun
from reports.rendering import STATIC_ORIGIN, ForbiddenURL, StaticOnlyFetcher
from reports.services import report_render
from reports.tasks import send_monthly_summaries
from sessions.models import SessionNote
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    GroupFactory,
    SessionFactory,
)

from .conftest import PERIOD, at, pdf_text

START, END = PERIOD


def test_a_ready_run_stores_its_file_and_its_sha256(world, ewa, make_report):
    run = make_report("sign_in_sheet", ewa, session=world.sessions[0].pk)
    assert run.status == "ready" and run.error == ""
    with run.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == run.sha256
    assert run.started_at and run.finished_at


def test_a_run_is_claimed_once(world, ewa, make_report):
    run = make_report("sign_in_sheet", ewa, session=world.sessions[0].pk)
    finished = run.finished_at
    assert report_render(run_id=run.pk) is None  # a redelivered message does nothing
    run.refresh_from_db()
    assert run.finished_at == finished


def test_a_run_abandoned_by_a_dead_worker_is_claimed_again_after_the_time_limit(
    world, ewa, make_report, settings
):
    run = make_report("sign_in_sheet", ewa, session=world.sessions[0].pk)
    long_ago = run.started_at - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    ReportRun.objects.filter(pk=run.pk).update(status="running", started_at=run.started_at)
    assert report_render(run_id=run.pk) is None  # still within the limit: someone has it
    ReportRun.objects.filter(pk=run.pk).update(status="running", started_at=long_ago)
    assert report_render(run_id=run.pk).status == "ready"


def test_a_failed_render_leaves_a_failed_run_with_its_reason(world, ewa, make_report, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("template exploded")

    monkeypatch.setattr("reports.services.render_pdf", broken)
    run = make_report("sign_in_sheet", ewa, session=world.sessions[0].pk)
    assert run.status == "failed"
    assert run.error == "ValueError: template exploded"
    assert not run.file


def test_a_consent_withdrawn_before_rendering_fails_the_certificate_with_the_reason(
    world, ewa, django_capture_on_commit_callbacks
):
    from reports.services import report_request

    participant = world.participants[0]
    consent = ConsentFactory(
        participant=participant, purpose=Consent.Purpose.DISCLOSURE, recipient="Court"
    )
    run = report_request(
        type="attendance_certificate",
        by=ewa,
        parameters={
            "participant": participant.pk,
            "group": world.group.pk,
            "recipient": "Court",
            "start": START,
            "end": END,
        },
    )
    consent_withdraw(consent=consent, by=ewa, reason="Changed her mind")
    report_render(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "no active consent to disclose their attendance to “Court”" in run.error


def test_a_transient_error_is_retried_and_the_run_then_succeeds(
    world, ewa, make_report, monkeypatch
):
    calls = []
    real = rendering.render_pdf

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr("reports.services.render_pdf", flaky)
    run = make_report("sign_in_sheet", ewa, session=world.sessions[0].pk)
    assert len(calls) == 2
    assert run.status == "ready"


def test_the_fetcher_serves_the_shipped_fonts_and_refuses_everything_else():
    fetcher = StaticOnlyFetcher()
    font = fetcher.fetch(STATIC_ORIGIN + "reports/fonts/NotoNaskhArabic-Regular.ttf")
    assert font.read(4) == b"\x00\x01\x00\x00"
    for url in (
        "http://example.org/tracker.png",
        "https://example.org/style.css",
        "file:///etc/passwd",
        "data:text/css,body{}",
        STATIC_ORIGIN + "reports/../../../etc/passwd",
        STATIC_ORIGIN + "reports/%2e%2e/%2e%2e/settings.py",
        STATIC_ORIGIN + "admin/css/base.css",
    ):
        with pytest.raises(ForbiddenURL):
            fetcher.fetch(url)


def test_urls_typed_by_users_never_make_weasyprint_fetch_anything(
    world, ewa, anna, make_report, monkeypatch
):
    fetched, opened = [], []
    real_fetch = StaticOnlyFetcher.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(StaticOnlyFetcher, "fetch", spy)
    monkeypatch.setattr(URLFetcher, "open", lambda *a, **k: opened.append(a) or None)
    world.group.name = (
        '<img src="http://evil.example/x.png"><link rel="stylesheet" href="file:///etc/passwd">'
    )
    world.group.ground_rules = (
        '<iframe src="file:///etc/passwd"></iframe> url(http://evil.example/a)'
    )
    world.group.save()
    participant = world.participants[0]
    SessionNote.objects.create(
        session=world.sessions[0],
        kind="participant",
        participant=participant,
        author=anna,
        text='<img src="file:///etc/passwd"> <style>@import "http://evil.example/x.css";</style>',
    )
    runs = [
        make_report("sign_in_sheet", ewa, session=world.sessions[0].pk),
        make_report("group_register", ewa, group=world.group.pk, start=START, end=END),
        make_report("participant_export", ewa, participant=participant.pk),
    ]
    assert all(run.status == "ready" for run in runs)
    assert fetched and all(url.startswith(STATIC_ORIGIN + "reports/") for url in fetched)
    assert opened == []
    # The markup is printed as the text it is.
    assert '<img src="http://evil.example/x.png">' in pdf_text(runs[0]).replace("\n", "")


def test_markup_that_slipped_into_the_html_is_still_refused(monkeypatch):
    refused = []
    real_fetch = StaticOnlyFetcher.fetch

    def spy(self, url, headers=None):
        try:
            return real_fetch(self, url, headers)
        except ForbiddenURL:
            refused.append(url)
            raise

    monkeypatch.setattr(StaticOnlyFetcher, "fetch", spy)
    pdf = rendering.html_to_pdf(
        '<html><body><img src="file:///etc/passwd"><img src="http://evil.example/x.png">'
        '<link rel="stylesheet" href="../../../../etc/passwd.css">ok</body></html>'
    )
    assert pdf.startswith(b"%PDF")
    assert "file:///etc/passwd" in refused and "http://evil.example/x.png" in refused
    assert any("etc/passwd.css" in url for url in refused)


def test_the_public_check_confirms_a_certificate_and_shows_no_more_than_it(
    world, ewa, make_report, client
):
    participant = world.participants[2]  # no health-data consent: shown by code
    ConsentFactory(participant=participant, purpose=Consent.Purpose.DISCLOSURE, recipient="Court")
    run = make_report(
        "attendance_certificate",
        ewa,
        participant=participant.pk,
        group=world.group.pk,
        recipient="Court",
        start=START,
        end=END,
    )
    response = client.get(f"/verify/{run.verification_code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "This certificate is genuine" in page
    for shown in (participant.code, world.group.name, "2026-10-01", "Court", "Anna"):
        assert shown in page
    for hidden in (
        participant.legal_name,
        participant.alias,
        "Theme 1",
        world.participants[0].code,
    ):
        assert hidden not in page
    assert client.get("/verify/AAAA-BBBB-CCCC/").status_code == 404


def test_the_monthly_summary_is_emailed_once_to_the_admins(world, institution_a, ewa):
    institution_a.monthly_summary_enabled = True
    institution_a.save()
    send_monthly_summaries("2026-10")
    send_monthly_summaries(month="2026-10")
    runs = ReportRun.objects.filter(institution=institution_a, scheduled_month="2026-10-01")
    assert runs.count() == 1
    run = runs.get()
    assert run.status == "ready" and run.emailed_at is not None
    assert run.parameters == {
        "institution": institution_a.pk,
        "start": "2026-10-01",
        "end": "2026-10-31",
    }
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [ewa.email]
    ((name, content, mimetype),) = message.attachments
    assert name == "summary-2026-10.pdf" and mimetype == "application/pdf"
    assert content.startswith(b"%PDF")


def test_the_command_runs_the_monthly_summary_for_a_given_month(
    world, institution_a, ewa, institution_b, capsys
):
    institution_a.monthly_summary_enabled = True
    institution_a.save()
    call_command("send_monthly_summaries", "--month", "2026-09")
    assert "1 institution(s)." in capsys.readouterr().out
    assert ReportRun.objects.get().scheduled_month == datetime.date(2026, 9, 1)
    assert not ReportRun.objects.filter(institution=institution_b).exists()


def _grow(world, members: int, sessions: int):
    """Add `members` members and `sessions` held sessions with a mark for everyone."""
    group = world.group
    enrollments = [
        EnrollmentFactory(group=group, joined_on=datetime.date(2026, 9, 1)) for _ in range(members)
    ]
    for k in range(sessions):
        session = SessionFactory(
            group=group,
            status="held",
            starts_at=at("2026-10-01") + datetime.timedelta(days=k, hours=-8),
            ends_at=at("2026-10-01") + datetime.timedelta(days=k, hours=-7),
            sequence=100 + k,
        )
        for e in enrollments:
            AttendanceFactory(session=session, enrollment=e, participant=e.participant)


@pytest.mark.parametrize("members, sessions", [(0, 0), (8, 6)])
@pytest.mark.parametrize("report", ["group_register", "activity_summary", "sign_in_sheet"])
def test_query_counts_do_not_grow_with_the_rows(
    world, ewa, institution_a, django_assert_max_num_queries, members, sessions, report
):
    _grow(world, members, sessions)
    for _ in range(members // 2):  # more groups for the summary
        other = GroupFactory(institution=institution_a)
        SessionFactory(
            group=other, status="held", starts_at=at("2026-10-02"), ends_at=at("2026-10-02", 19)
        )
    params = {
        "group_register": {"group": world.group.pk, "start": START, "end": END},
        "activity_summary": {"institution": institution_a.pk, "start": START, "end": END},
        "sign_in_sheet": {"session": world.sessions[0].pk},
    }[report]
    run = ReportRun.objects.create(
        institution=institution_a, type=report, language="en", parameters=params, requested_by=ewa
    )
    run = ReportRun.objects.select_related("institution", "requested_by").get(pk=run.pk)
    with django_assert_max_num_queries(12):
        builders.build(run)


@pytest.mark.parametrize(
    ("moment", "first", "last"),
    [
        ("2026-12-31T23:30:00+01:00", "2026-11-01", "2026-11-30"),
        # Half past midnight on the first of a quarter: still the day before in UTC.
        ("2027-01-01T00:30:00+01:00", "2026-12-01", "2026-12-31"),
        ("2027-04-01T00:30:00+02:00", "2027-03-01", "2027-03-31"),
        ("2028-03-01T00:10:00+01:00", "2028-02-01", "2028-02-29"),
    ],
)
def test_the_monthly_summary_covers_the_month_before_today_in_warsaw(
    time_machine, moment, first, last
):
    from reports.services import month_bounds

    time_machine.move_to(datetime.datetime.fromisoformat(moment), tick=False)

    assert month_bounds(None) == (
        datetime.date.fromisoformat(first),
        datetime.date.fromisoformat(last),
    )
