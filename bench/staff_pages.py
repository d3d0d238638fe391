"""Benchmark the main staff pages on the scale data: server time (median) and queries per page.

    createdb -h 127.0.0.1 -U postgres krag_scale
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/krag_scale
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_scale
    .venv/bin/python bench/staff_pages.py [--repeat 15]
    .venv/bin/python bench/staff_pages.py --only calendar --profile 25   # where the time goes
    .venv/bin/python bench/staff_pages.py --only group --sql             # each query, timed

In process with Django's test client (no network, DEBUG off): each page is asked for once to
warm the caches, then `--repeat` times; the time is the whole request through the middleware
and the template (wall clock), the CPU time is this process's for the request (Python's
share, without PostgreSQL's: on a shared machine the wall clock also counts the waits for a
core), the queries are counted on the database connection. The pages are those of
the largest institution (scale-i01): a facilitator's (scale-i01-f001) today, session, group,
participants list, a participant, the calendar month, the report forms and the pickers'
searches, and its admin's (scale-i01-admin) audit log and calendar month. Writes nothing but audit rows (the
participant page's read) — and those are rolled back.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "off",
    "SECURE_COOKIES": "off",
    "LOG_LEVEL": "WARNING",
    "KRAG_VAR_DIR": "/tmp/krag-bench-var",
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktISE=",
}


def setup() -> None:
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def pages() -> list[tuple[str, str, str]]:
    """(label, username, path) of every page measured."""
    from django.utils import timezone

    from clinics.models import Institution
    from sessions.models import Session, SupportGroup

    institution = Institution.objects.get(
        memberships__user__username="scale-i01-f001", memberships__is_active=True
    )
    group = (
        SupportGroup.objects.filter(facilitator_roles__user__username="scale-i01-f001")
        .order_by("pk")
        .first()
    )
    session = (
        Session.objects.filter(group=group, starts_at__lte=timezone.now())
        .order_by("-starts_at")
        .first()
        or Session.objects.filter(group=group).order_by("starts_at").first()
    )
    member = group.enrollments.filter(status="active").order_by("pk").first()
    participant_id = (
        member.participant_id
        if member
        else institution.participants.order_by("pk").values_list("pk", flat=True).first()
    )
    f = "scale-i01-f001"
    return [
        ("today", f, "/"),
        ("session", f, f"/sessions/{session.pk}/"),
        ("group", f, f"/groups/{group.pk}/"),
        ("participants list", f, "/participants/"),
        ("participants search", f, "/participants/?q=P-0001"),
        ("participant", f, f"/participants/{participant_id}/"),
        ("calendar month", f, "/calendar/?view=month"),
        # The month as a facilitator sees it by default is theirs; everyone's is one choice away.
        ("calendar month: everyone's", f, "/calendar/?view=month&whose=all"),
        ("calendar week: everyone's", f, "/calendar/?view=week&whose=all"),
        ("calendar day: everyone's", f, "/calendar/?view=day&whose=all"),
        ("report form: register", f, "/reports/?type=group_register"),
        ("report form: sign-in sheet", f, "/reports/?type=sign_in_sheet"),
        ("report form: certificate", f, "/reports/?type=attendance_certificate"),
        ("picker: participants", f, "/search/participants/?q=12"),
        ("picker: sessions", f, "/search/sessions/?q="),
        ("header search", f, "/search/?q=P-00012"),
        ("audit log", "scale-i01-admin", "/audit/"),
        ("calendar month: admin", "scale-i01-admin", "/calendar/?view=month"),
    ]


def measure(repeat: int, only: list[str] | None = None) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rows = []
    clients = {}
    for label, username, path in pages():
        if only and not any(word in label for word in only):
            continue
        if username not in clients:
            client = Client()
            client.force_login(get_user_model().objects.get(username=username))
            client.cookies["django_language"] = "pl"
            clients[username] = client
        client = clients[username]
        times, cpu, queries, size = [], [], 0, 0
        with transaction.atomic():
            client.get(path)  # warm: templates, translations, content types
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as captured:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    response = client.get(path)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                assert response.status_code == 200, (path, response.status_code)
                queries, size = len(captured), len(response.content)
            transaction.set_rollback(True)
        rows.append(
            {
                "page": label,
                "path": path,
                "median_ms": statistics.median(times) * 1000,
                "p90_ms": sorted(times)[int(0.9 * (len(times) - 1))] * 1000,
                "cpu_ms": statistics.median(cpu) * 1000,
                "queries": queries,
                "kb": size / 1024,
            }
        )
    return rows


def inspect(only: list[str], *, profile: int, sql: bool) -> None:
    """One request of each page asked for: its cProfile (the top `profile` functions by
    cumulative time) and/or its queries with their times."""
    import cProfile
    import pstats

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    for label, username, path in pages():
        if not any(word in label for word in only):
            continue
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        client.cookies["django_language"] = "pl"
        with transaction.atomic():
            client.get(path)
            print(f"## {label} {path}")
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                client.get(path)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
            if sql:
                with CaptureQueriesContext(connection) as captured:
                    client.get(path)
                for query in captured:
                    print(f"{float(query['time']) * 1000:7.1f} ms  {query['sql'][:400]}")
            transaction.set_rollback(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="pages whose label contains one of these")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of a cProfile")
    parser.add_argument("--sql", action="store_true", help="print each query with its time")
    args = parser.parse_args()
    setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Run it on the scale data in PostgreSQL (DATABASE_URL), see the docstring.")
    if args.profile or args.sql:
        inspect(args.only or [""], profile=args.profile, sql=args.sql)
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = measure(args.repeat, args.only)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| page | path | server time, median | p90 | CPU, median | queries | HTML |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['page']} | `{r['path']}` | {r['median_ms']:.0f} ms | {r['p90_ms']:.0f} ms "
            f"| {r['cpu_ms']:.0f} ms | {r['queries']} | {r['kb']:.0f} kB |"
        )


if __name__ == "__main__":
    main()
