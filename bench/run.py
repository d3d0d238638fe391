"""Benchmark the API on the scale data side by side with its floor, and print one table.

    createdb -h 127.0.0.1 -U postgres krag_scale
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/krag_scale
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_scale
    apt-get install -y wrk
    .venv/bin/python bench/run.py            # about 3 minutes

It starts gunicorn (bench/gunicorn.conf.py: 2 workers) on 127.0.0.1:8171 against
$DATABASE_URL with the floor views mounted (KRAG_BENCH_FLOOR=1), signs in as a facilitator of
the largest institution, and drives each endpoint with wrk: a fixed number of connections
(8), a short warm-up, then a bounded run (10 s). Queries per request are counted in process
with the test client (page sizes 10 and 100), so they need no DEBUG server. PUTs are
measured on the server for real (they write); in process they are rolled back.
"""

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",  # DEBUG keeps every query in memory: never benchmark with it
    "SECRET_KEY": "bench-only-secret-key",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "off",
    "SECURE_COOKIES": "off",
    "KRAG_BENCH_FLOOR": "1",
    # The per-user write throttle would answer most of 8 clients' PUTs with 429.
    "THROTTLE_USER_WRITE": "1000000/min",
    "THROTTLE_LOGIN": "1000/min",
    "LOG_LEVEL": "WARNING",
    "KRAG_VAR_DIR": "/tmp/krag-bench-var",
    # A fixed key: the scale data stores no encrypted values, so any valid Fernet key will do.
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktISE=",
}


def setup(database_url: str) -> None:
    os.environ.update(BENCH_ENV)
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()


# --- What to ask for ---------------------------------------------------------------------


def plan(n_sessions: int) -> dict:
    """The user, the sessions and the request bodies of the run (read from the database)."""
    from django.db.models import Count
    from django.utils import timezone

    from attendance.services import session_roster
    from clinics.models import Institution, StaffMembership
    from sessions.models import Session

    institution = Institution.objects.annotate(n=Count("groups")).order_by("-n", "pk").first()
    membership = (
        StaffMembership.objects.filter(institution=institution, role="facilitator", is_active=True)
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    user = membership.user
    sessions = list(
        Session.objects.filter(group__facilitator_roles__user=user, status="held")
        .filter(starts_at__lte=timezone.now())
        .order_by("-starts_at")[:n_sessions]
    )
    rosters = {s.pk: [e.participant_id for e in session_roster(s)] for s in sessions}
    since = (timezone.now() - datetime.timedelta(days=30)).replace(microsecond=0)
    return {
        "institution": institution,
        "user": user,
        "sessions": [s.pk for s in sessions],
        "rosters": rosters,
        "since": since.isoformat(),
    }


def marks_body(participants: list[int], status: str) -> str:
    return json.dumps({"marks": [{"participant": p, "status": status} for p in participants]})


def endpoints(p: dict) -> list[dict]:
    """Each endpoint: its requests at page size 100 (cycled by wrk), the floor's, and one
    request per page size for counting queries."""
    since = urllib.parse.quote(p["since"])
    sessions = p["sessions"]

    def roster(prefix):
        return [("GET", f"{prefix}/sessions/{s}/attendance/", "") for s in sessions]

    put_fresh = [
        ("PUT", f"/api/v1/sessions/{s}/attendance/", marks_body(p["rosters"][s], status))
        for status in ("present", "late")
        for s in sessions
    ]
    put_same = [
        ("PUT", f"/api/v1/sessions/{s}/attendance/", marks_body(p["rosters"][s], "present"))
        for s in sessions
    ]
    return [
        {
            "name": "my sessions this week",
            "api": [("GET", "/api/v1/sessions/?mine=true&week=today&page_size=100", "")],
            "floor": [("GET", "/bench-floor/sessions/?page_size=100", "")],
            "count": {n: f"/api/v1/sessions/?mine=true&week=today&page_size={n}" for n in (10, 100)},
        },
        {
            "name": "session roster (GET)",
            "api": roster("/api/v1"),
            "floor": roster("/bench-floor"),
            "count": {n: f"/api/v1/sessions/{sessions[0]}/attendance/" for n in (10, 100)},
        },
        {
            "name": "mark a roster (PUT, changed marks)",
            "api": put_fresh,
            "floor": None,
            # Counted for a PUT that changes every mark: "late" after "present".
            "count_put": put_fresh[len(sessions)],
            "count_after": put_fresh[0],
        },
        {
            "name": "mark a roster (PUT, same marks)",
            "api": put_same,
            "floor": None,
            "count_put": put_same[0],
            "count_after": put_same[0],  # the same marks again
        },
        {
            "name": "100 participants",
            "api": [("GET", f"/api/v1/participants/?page_size=100&page={n}", "") for n in range(1, 11)],
            "floor": [("GET", f"/bench-floor/participants/?page_size=100&page={n}", "") for n in range(1, 11)],
            "count": {n: f"/api/v1/participants/?page_size={n}" for n in (10, 100)},
        },
        {
            "name": "100 attendance records, updated_since",
            "api": [
                ("GET", f"/api/v1/attendance/?updated_since={since}&page_size=100&page={n}", "")
                for n in range(1, 11)
            ],
            "floor": [
                ("GET", f"/bench-floor/attendance/?updated_since={since}&page_size=100&page={n}", "")
                for n in range(1, 11)
            ],
            "count": {
                n: f"/api/v1/attendance/?updated_since={since}&page_size={n}" for n in (10, 100)
            },
        },
    ]  # fmt: skip


# --- Queries per request (in process) -----------------------------------------------------


def count_queries(p: dict, eps: list[dict]) -> None:
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    _instance, token = AuthToken.objects.create(user=p["user"])
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for ep in eps:
        ep["queries"] = {}
        if "count_put" in ep:
            _method, path, body = ep["count_put"]
            with transaction.atomic():
                _method, first_path, first_body = ep["count_after"]
                first = client.put(first_path, first_body, content_type="application/json")
                assert first.status_code == 200, (first_path, first.status_code)
                with CaptureQueriesContext(connection) as ctx:
                    response = client.put(path, body, content_type="application/json")
                transaction.set_rollback(True)
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
            n = len(json.loads(body)["marks"])
            ep["queries"] = {f"{n} marks": _queries(ctx.captured_queries)}
            continue
        for size, path in ep["count"].items():
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
            ep["queries"][size] = _queries(ctx.captured_queries)


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _queries(captured: list[dict]) -> str:
    """The queries, and apart from them the transaction's own statements: a service's
    transaction is a SAVEPOINT/RELEASE pair inside the one a PUT is counted in, BEGIN/COMMIT
    in production."""
    control = sum(q["sql"].startswith(TRANSACTION_CONTROL) for q in captured)
    queries = len(captured) - control
    return f"{queries} + {control} transaction" if control else str(queries)


# --- The server and the load -------------------------------------------------------------


def start_server(port: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),  # the venv running this script
            "-c",
            str(ROOT / "bench/gunicorn.conf.py"),
            "config.wsgi",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "KRAG_BENCH_BIND": f"127.0.0.1:{port}"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


def login(port: int, username: str, password: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]


def wrk(port: int, token: str, requests_: list[tuple], seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as listing:
        for method, path, body in requests_:
            listing.write(f"{method}\t{path}\t{body}\n")
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(ROOT / "bench/wrk.lua"),
                f"http://127.0.0.1:{port}",
            ],  # fmt: skip
            env={**os.environ, "KRAG_BENCH_TOKEN": token, "KRAG_BENCH_REQUESTS": listing.name},
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(listing.name)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    seconds_ = figures["duration_us"] / 1e6
    return {
        "rps": figures["requests"] / seconds_,
        "p50": figures["p50_us"] / 1000,
        "p95": figures["p95_us"] / 1000,
        "requests": figures["requests"],
        "errors": figures["non_2xx"] + figures["socket_errors"],
    }


def _ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def cpu_pids(server: subprocess.Popen) -> dict[str, list[int]]:
    """The gunicorn workers, and the PostgreSQL backends serving this database."""
    from django.db import connection

    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [row[0] for row in cursor.fetchall()]
    return {"web": workers, "db": backends}


class CPUMeter:
    """CPU time the server and the database spend on a run: unlike latency and throughput,
    it hardly changes when other processes share the cores."""

    def __init__(self, server):
        self.server = server

    def __enter__(self):
        self.before = {pid: _ticks(pid) for pids in cpu_pids(self.server).values() for pid in pids}
        return self

    def __exit__(self, *exc):
        hz = os.sysconf("SC_CLK_TCK")
        self.ms = {}
        for side, pids in cpu_pids(self.server).items():
            ticks = sum(_ticks(pid) - self.before.get(pid, 0) for pid in pids)
            self.ms[side] = ticks * 1000 / hz


def check_once(port: int, token: str, method: str, path: str, body: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body.encode() if body else None,
        method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 200:
            raise SystemExit(f"{method} {path} answered {response.status}")


# --- Facts of the machine and the data ---------------------------------------------------


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    from django import get_version
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "commit": commit,
        "load": "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "software": f"Python {platform.python_version()}, Django {get_version()}, PostgreSQL {pg}",
    }


def data_size() -> dict:
    from attendance.models import AttendanceRecord, Consent, Enrollment
    from clinics.models import Institution, Participant
    from sessions.models import Session, SupportGroup

    return {
        "institutions": Institution.objects.count(),
        "groups": SupportGroup.objects.count(),
        "participants": Participant.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "consents": Consent.objects.count(),
        "sessions": Session.objects.count(),
        "attendance records": AttendanceRecord.objects.count(),
    }


def table_sizes(limit: int = 8) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid),
                   pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname = 'public'
            ORDER BY pg_total_relation_size(c.oid) DESC LIMIT %s
            """,
            [limit],
        )
        return cursor.fetchall()


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


# --- The table ---------------------------------------------------------------------------


def report(facts: dict, sizes: dict, eps: list[dict], tables: list[tuple], extra: list[str]) -> str:
    lines = [
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory']}; {facts['software']}",
        f"Commit: {facts['commit']}    Run: {facts['when']}    Server: {facts['server']}",
        f"Before the run: {facts['load']} (anything above ~0.5 means others share the cores)",
        "Data: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items()),
        f"Load: wrk, {facts['connections']} connections, {facts['seconds']} s per endpoint "
        f"after a {facts['warmup']} s warm-up; signed in as {facts['user']}",
        "",
        "| endpoint | req/s | p50 ms | p95 ms | CPU ms/req web + db | floor req/s | floor p50 ms "
        "| floor p95 ms | floor CPU ms/req | API / floor req/s | API / floor by CPU "
        "| queries (page 10 / 100) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for ep in eps:
        api, floor = ep["result"], ep.get("floor_result")
        queries = " / ".join(f"{v}" for v in ep["queries"].values())
        if "count_put" in ep:
            queries = ", ".join(f"{v} ({k})" for k, v in ep["queries"].items())
        errors = f" ({api['errors']} errors)" if api["errors"] else ""
        row = [ep["name"], f"{api['rps']:.0f}{errors}", f"{api['p50']:.1f}", f"{api['p95']:.1f}",
               f"{api['web_cpu_ms']:.1f} + {api['db_cpu_ms']:.1f}"]  # fmt: skip
        if floor:
            api_cpu = api["web_cpu_ms"] + api["db_cpu_ms"]
            floor_cpu = floor["web_cpu_ms"] + floor["db_cpu_ms"]
            row += [f"{floor['rps']:.0f}", f"{floor['p50']:.1f}", f"{floor['p95']:.1f}",
                    f"{floor['web_cpu_ms']:.1f} + {floor['db_cpu_ms']:.1f}",
                    f"{api['rps'] / floor['rps']:.2f}", f"{floor_cpu / api_cpu:.2f}"]  # fmt: skip
        else:
            row += ["—"] * 6
        lines.append("| " + " | ".join(row + [queries]) + " |")
    lines += ["", "| table | rows | table | indexes | total |", "|---|---:|---:|---:|---:|"]
    for name, rows, heap, indexes, total in tables:
        rows = f"{rows:,}" if rows >= 0 else "?"  # -1: never analysed yet
        lines.append(f"| {name} | {rows} | {mb(heap)} | {mb(indexes)} | {mb(total)} |")
    return "\n".join(lines + extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/krag_scale"),
    )
    parser.add_argument("--port", type=int, default=8171)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=40, help="sessions the roster runs cycle")
    parser.add_argument("--only", help="run only the endpoints whose name contains this")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--queries-only", action="store_true", help="count queries per request, start no server"
    )
    parser.add_argument("--no-reports", action="store_true", help="skip the PDF reports")
    args = parser.parse_args()

    setup(args.database_url)
    from django.core.management import call_command

    from clinics.management.commands.seed_scale import PASSWORD

    call_command("migrate", verbosity=0)  # the code under test may bring new migrations

    p = plan(args.sessions)
    eps = endpoints(p)
    if args.only:
        eps = [ep for ep in eps if args.only in ep["name"]]
    count_queries(p, eps)
    if args.queries_only:
        for ep in eps:
            print(f"{ep['name']:<40} {ep['queries']}")
        return
    facts = machine()
    sizes = data_size()
    from django.db import connections

    connections.close_all()  # the server's processes must not inherit this one's connection

    server_env = {k: v for k, v in os.environ.items() if k in BENCH_ENV or k == "DATABASE_URL"}
    server = start_server(args.port, server_env)
    try:
        token = login(args.port, p["user"].username, PASSWORD)
        for ep in eps:
            for side in ("api", "floor"):
                requests_ = ep[side]
                if not requests_:
                    continue
                check_once(args.port, token, *requests_[0])
                if args.warmup:
                    wrk(args.port, token, requests_, args.warmup, args.connections)
                with CPUMeter(server) as cpu:
                    result = wrk(args.port, token, requests_, args.seconds, args.connections)
                n = max(result["requests"], 1)
                result["web_cpu_ms"] = cpu.ms["web"] / n
                result["db_cpu_ms"] = cpu.ms["db"] / n
                ep["result" if side == "api" else "floor_result"] = result
                print(f"  {ep['name']:<40} {side:<5} {result['rps']:7.0f} req/s "
                      f"p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  CPU/req "
                      f"{result['web_cpu_ms']:.1f} + {result['db_cpu_ms']:.1f} ms", file=sys.stderr)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    gunicorn_conf = {}
    exec((ROOT / "bench/gunicorn.conf.py").read_text(), gunicorn_conf)  # noqa: S102 - our own file
    facts.update(
        when=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        server=f"gunicorn {gunicorn_conf['workers']} workers × {gunicorn_conf['threads']} "
        f"threads ({gunicorn_conf['worker_class']})",
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        user=p["user"].username,
    )
    extra = []
    if not args.no_reports:
        from bench.reports_timing import measure
        from bench.reports_timing import table as reports_table

        print("  reports…", file=sys.stderr)
        extra = ["", *reports_table(measure())]
    text = report(facts, sizes, eps, table_sizes(), extra)
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "facts": facts,
                    "data": sizes,
                    "endpoints": [
                        {
                            k: v
                            for k, v in ep.items()
                            if k in ("name", "result", "floor_result", "queries")
                        }
                        for ep in eps
                    ],
                },
                indent=2,
                default=str,
            )  # fmt: skip
        )


if __name__ == "__main__":
    main()
