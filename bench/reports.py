"""Benchmark of the PDF reports: time and peak memory of three typical documents, each next to
its floor (WeasyPrint alone laying out the same final HTML).

    DEBUG=1 .venv/bin/python bench/reports.py [--repeat 3] [--language pl]

It builds its own data in a throw-away SQLite database under /tmp (removed afterwards):
  - a sign-in sheet for a session of 20 members;
  - the register of a group of 20 participants × 52 held sessions (1,040 marks);
  - the activity summary of an institution with 50 groups over a quarter (13 weekly sessions
    and 10 members each: 650 sessions, 6,500 marks).

"full" is the whole path a report takes in production (claim the run, query, build the
context, render the template, lay out the PDF, store the file, record the SHA-256);
"floor" is `weasyprint.HTML(...).write_pdf()` of the very HTML that path produced, with the
same fonts. Times are the best of --repeat runs; peak memory is traced (tracemalloc) on one
extra run of each, so tracing does not slow the timed ones.
"""

import argparse
import datetime
import io
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(workdir: Path) -> None:
    os.environ["KRAG_VAR_DIR"] = str(workdir)
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import logging

    for name in ("weasyprint", "fontTools", "celery"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_world():
    """The benchmark's data, written with bulk inserts (the services are not what we time)."""
    import zoneinfo

    from django.contrib.auth import get_user_model

    from attendance.models import AttendanceRecord, Enrollment
    from clinics.models import Institution, Participant, Room, Site, StaffMembership
    from sessions.models import GroupFacilitator, Session, SupportGroup

    tz = zoneinfo.ZoneInfo("Europe/Warsaw")
    institution = Institution.objects.create(
        name="Poradnia Zdrowia Psychicznego „Krąg”",
        kind=Institution.Kind.MENTAL_HEALTH_CLINIC,
        language="pl",
        letterhead="ul. Źródlana 7, 31-000 Kraków\ntel. 12 345 67 89",
    )
    room = Room.objects.create(
        site=Site.objects.create(institution=institution, name="Main"), name="Sala 1", capacity=30
    )
    User = get_user_model()
    admin = User.objects.create(username="bench-admin", first_name="Ewa", last_name="Nowak")
    StaffMembership.objects.create(
        user=admin, institution=institution, role=StaffMembership.Role.ADMIN
    )
    facilitators = User.objects.bulk_create(
        [User(username=f"fac{i}", first_name="Facilitator", last_name=f"{i}") for i in range(10)]
    )
    StaffMembership.objects.bulk_create(
        [
            StaffMembership(user=u, institution=institution, role=StaffMembership.Role.FACILITATOR)
            for u in facilitators
        ]
    )
    counter = iter(range(1, 10**6))

    def participants(n):
        rows = []
        for _ in range(n):
            number = next(counter)
            rows.append(
                Participant(
                    institution=institution,
                    number=number,
                    code=Participant.code_for(number),
                    alias=f"Uczestnik {number}",
                )
            )
        made = Participant.objects.bulk_create(rows)
        Institution.objects.filter(pk=institution.pk).update(last_participant_number=number)
        return made

    def group(name, category, members, sessions, first_day, weeks_apart=1):
        g = SupportGroup.objects.create(
            institution=institution,
            name=name,
            category=category,
            membership_mode=SupportGroup.MembershipMode.CLOSED,
            capacity=25,
            min_size=3,
            status=SupportGroup.Status.ACTIVE,
            starts_on=first_day,
            default_room=room,
            ground_rules="Co zostało powiedziane w grupie, zostaje w grupie.\n"
            "Mówimy we własnym imieniu. Każdy ma prawo milczeć.",
        )
        GroupFacilitator.objects.create(group=g, user=facilitators[g.pk % len(facilitators)])
        people = participants(members)
        enrollments = Enrollment.objects.bulk_create(
            [
                Enrollment(
                    institution=institution,
                    participant=p,
                    group=g,
                    status=Enrollment.Status.ACTIVE,
                    joined_on=first_day,
                    created_by=admin,
                )
                for p in people
            ]
        )
        start = datetime.datetime.combine(first_day, datetime.time(18), tzinfo=tz)
        made = Session.objects.bulk_create(
            [
                Session(
                    institution=institution,
                    group=g,
                    sequence=k + 1,
                    starts_at=start + datetime.timedelta(weeks=k * weeks_apart),
                    ends_at=start + datetime.timedelta(weeks=k * weeks_apart, minutes=90),
                    room=room,
                    status=Session.Status.HELD if k % 17 else Session.Status.CANCELLED,
                )
                for k in range(sessions)
            ]
        )
        statuses = [s for s, _ in AttendanceRecord.Status.choices]
        AttendanceRecord.objects.bulk_create(
            [
                AttendanceRecord(
                    institution=institution,
                    session=s,
                    participant=e.participant,
                    enrollment=e,
                    status=statuses[(i * 7 + k * 3) % 11 % len(statuses)],
                    recorded_by=admin,
                )
                for k, s in enumerate(made)
                if s.status == Session.Status.HELD
                for i, e in enumerate(enrollments)
            ],
            batch_size=2000,
        )
        return g, made

    sheet_group, sheet_sessions = group(
        "Grupa wsparcia dla osób w żałobie", "bereavement", 20, 1, datetime.date(2026, 10, 5)
    )
    register_group, _ = group(
        "Grupa terapeutyczna DDA — czwartki", "acoa", 20, 52, datetime.date(2025, 11, 6)
    )
    categories = [c for c, _ in SupportGroup.Category.choices]
    for i in range(48):  # 48 more groups: 50 with activity in the quarter
        group(f"Grupa {i + 1}", categories[i % len(categories)], 10, 13, datetime.date(2026, 7, 1))
    return {
        "institution": institution,
        "admin": admin,
        "sheet_session": sheet_sessions[0],
        "register_group": register_group,
    }


def measure(label, report_type, parameters, world, repeat, language, save=None):
    from pypdf import PdfReader

    from reports.builders import build
    from reports.models import ReportRun
    from reports.rendering import html_to_pdf, render_html
    from reports.services import report_render

    def new_run():
        return ReportRun.objects.create(
            institution=world["institution"],
            type=report_type,
            language=language,
            parameters=parameters,
            requested_by=world["admin"],
        )

    def full():
        run_id = new_run().pk
        started = time.perf_counter()
        run = report_render(run_id=run_id)
        elapsed = time.perf_counter() - started
        assert run is not None and run.status == "ready", run and run.error
        return elapsed, run

    full()  # warm-up: imports, template compilation, font caches
    full_times = [full()[0] for _ in range(repeat)]
    run = ReportRun.objects.select_related("institution", "requested_by").get(pk=new_run().pk)
    built = build(run)
    html = render_html(built.template, built.context, language)

    def floor():
        started = time.perf_counter()
        pdf = html_to_pdf(html)
        return time.perf_counter() - started, pdf

    floor()
    floor_results = [floor() for _ in range(repeat)]
    floor_times = [t for t, _ in floor_results]
    pages = len(PdfReader(io.BytesIO(floor_results[0][1])).pages)
    if save:
        Path(save, f"{report_type}-{language}.pdf").write_bytes(floor_results[0][1])

    tracemalloc.start()
    full()
    full_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    floor()
    floor_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    best_full, best_floor = min(full_times), min(floor_times)
    print(
        f"{label:<44} {best_full:7.3f} s {best_floor:7.3f} s {best_full / best_floor:6.2f}× "
        f"{full_peak / 2**20:8.1f} MiB {floor_peak / 2**20:8.1f} MiB {len(html) / 1024:7.0f} KiB"
        f" {pages:>5}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--language", default="pl", choices=["pl", "en", "ar"])
    parser.add_argument("--save", metavar="DIR", help="also write the PDFs there, to look at")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="krag-bench-reports-", dir="/tmp"))
    try:
        setup_django(workdir)
        started = time.perf_counter()
        world = make_world()
        print(f"data made in {time.perf_counter() - started:.1f} s ({workdir})")
        print(
            f"{'report (' + args.language + ')':<44} {'full':>9} {'floor':>9} {'ratio':>7} "
            f"{'peak full':>12} {'peak floor':>12} {'HTML':>11} {'pages':>5}"
        )
        institution = world["institution"]
        measure(
            "sign-in sheet, 20 people",
            "sign_in_sheet",
            {"session": world["sheet_session"].pk},
            world,
            args.repeat,
            args.language,
            args.save,
        )
        measure(
            "register, 20 participants × 52 sessions",
            "group_register",
            {"group": world["register_group"].pk, "start": "2025-11-01", "end": "2026-10-31"},
            world,
            args.repeat,
            args.language,
            args.save,
        )
        measure(
            "activity summary, 50 groups, one quarter",
            "activity_summary",
            {"institution": institution.pk, "start": "2026-07-01", "end": "2026-09-30"},
            world,
            args.repeat,
            args.language,
            args.save,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
