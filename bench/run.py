"""Benchmark the API on the scale data side by side with its floor, and print one table.

    createdb -h 127.0.0.1 -U postgres krag_scale
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/krag_scale
    export FIELD_ENCRYPTION_KEYS=YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktISE=  # BENCH_ENV's
    DEBUG=1 .venv/bin/python manage.py migrate && DEBUG=1 .venv/bin/python manage.py seed_scale
    apt-get install -y wrk
    .venv/bin/python bench/run.py --json /tmp/bench.json     # about 9 minutes

It starts gunicorn (bench/gunicorn.conf.py: 2 workers) on 127.0.0.1:8171 against
$DATABASE_URL with the floor views mounted (KRAG_BENCH_FLOOR=1), signs in as a facilitator and
the admin of the largest institution, and drives each endpoint and its floor with wrk (8
connections) in interleaved rounds: API, floor, API, floor … (5 rounds of 5 s each by
default, after a warm-up of each). Each round's two runs share the machine's state within
seconds, so their ratio holds on a busy machine where one long run of each does not; the
table gives the medians and the ratios' spread, and how busy other processes kept the cores.
Queries per request are counted in process with the test client (page sizes 10 and 100), so
they need no DEBUG server. PUTs are measured on the server for real (they write); in process
they are rolled back. `bench/compare.py` puts two runs' JSON side by side (1× and 4×).
"""

import argparse
import datetime
import json
import os
import platform
import socket
import statistics
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
    # A fixed key, for the benchmark only: seed_scale must encrypt the legal names with it
    # (export this FIELD_ENCRYPTION_KEYS before seeding, docs/benchmarks.md) to read them.
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktISE=",
}


def setup(database_url: str) -> None:
    os.environ.update(BENCH_ENV)
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()


# --- What to ask for ---------------------------------------------------------------------


def plan(n_sessions: int, audit_depth: int = 50_000) -> dict:
    """The users, the sessions, the cursors and the request bodies of the run (read from the
    database)."""
    from django.db.models import Count
    from django.utils import timezone

    from attendance.services import session_roster
    from audit.models import AuditEvent
    from audit.pagination import cursor_of
    from clinics.models import Institution, StaffMembership
    from sessions.models import Session

    institution = Institution.objects.annotate(n=Count("groups")).order_by("-n", "pk").first()
    staff = StaffMembership.objects.filter(institution=institution, is_active=True)
    user = (
        staff.filter(role="facilitator").select_related("user").order_by("user__username")[0].user
    )
    admin = staff.filter(role="admin").select_related("user").order_by("user__username")[0].user
    sessions = list(
        Session.objects.filter(group__facilitator_roles__user=user, status="held")
        .filter(starts_at__lte=timezone.now())
        .order_by("-starts_at")[:n_sessions]
    )
    rosters = {s.pk: [e.participant_id for e in session_roster(s)] for s in sessions}
    now = timezone.now().replace(microsecond=0)
    log = AuditEvent.objects.filter(institution=institution).order_by("-created_at", "-id")
    # Ten pages in a row, `audit_depth` events back (or as deep as the log goes).
    depth = min(audit_depth, max(0, log.count() - 1100))
    deep = [cursor_of(e) for e in log[depth : depth + 1000 : 100]]
    return {
        **sync_cursors(institution, user),
        "institution": institution,
        "user": user,
        "admin": admin,
        "sessions": [s.pk for s in sessions],
        "rosters": rosters,
        "since": (now - datetime.timedelta(days=30)).isoformat(),
        "month": ((now - datetime.timedelta(days=30)).isoformat(), now.isoformat()),
        "year": ((now - datetime.timedelta(days=365)).isoformat(), now.isoformat()),
        "audit_depth": depth,
        "audit_cursors": deep,
    }


def sync_cursors(institution, user, pages: int = 10) -> dict:
    """Cursors of the facilitator's full copy of the marks (`?sync=start`, api/sync.py) at its
    last `pages` pages: signed as the API signs the `next` of the page before (the position of
    a row found once here by OFFSET; the requests themselves use none)."""
    from django.core import signing

    from api import sync
    from attendance.models import AttendanceRecord
    from sync.changes import watermark

    marks = AttendanceRecord.objects.filter(institution=institution).order_by("change_number", "id")
    total = marks.count()
    start = max(0, total - pages * 100 - 1)
    keys = list(marks.values_list("change_number", "id")[start : start + pages * 100 : 100])
    upto = watermark()
    cursors = [
        signing.dumps(
            {
                "k": "page",
                "l": "attendance",
                "u": user.pk,
                "f": {},
                "s": None,
                "w": upto,
                "a": list(key),
                "g": None,
            },
            salt=sync.SALT,
            compress=True,
        )  # fmt: skip
        for key in keys
    ]
    return {"sync_marks": total, "sync_depth": start, "sync_cursors": cursors}


def marks_body(participants: list[int], status: str) -> str:
    return json.dumps({"marks": [{"participant": p, "status": status} for p in participants]})


def endpoints(p: dict) -> list[dict]:
    """Each endpoint: its requests at page size 100 (cycled by wrk), the floor's (the same
    query strings under /bench-floor/), the user it is asked as, and one request per page size
    for counting queries."""
    q = urllib.parse.quote
    since = q(p["since"])
    month = f"starts_after={q(p['month'][0])}&starts_before={q(p['month'][1])}"
    year = f"starts_after={q(p['year'][0])}&starts_before={q(p['year'][1])}"
    sessions = p["sessions"]

    def same_on_floor(paths):
        return [("GET", path.replace("/api/v1/", "/bench-floor/"), "") for path in paths]

    def listing(name, paths, count, user="user"):
        paths = list(paths)
        return {
            "name": name,
            "user": user,
            "api": [("GET", path, "") for path in paths],
            "floor": same_on_floor(paths),
            "count": count,
        }

    put_fresh = [
        ("PUT", f"/api/v1/sessions/{s}/attendance/", marks_body(p["rosters"][s], status))
        for status in ("present", "late")
        for s in sessions
    ]
    put_same = [
        ("PUT", f"/api/v1/sessions/{s}/attendance/", marks_body(p["rosters"][s], "present"))
        for s in sessions
    ]
    mine = f"/api/v1/sessions/?mine=true&{year}"
    by_facilitator = f"/api/v1/sessions/?facilitator={p['user'].pk}&{year}"
    deep = [f"/api/v1/audit-events/?older={c}&page_size=100" for c in p["audit_cursors"]]
    return [
        listing(
            "sessions of a month, 100 a page",
            [f"/api/v1/sessions/?{month}&page_size=100&page={n}" for n in range(1, 7)],
            {n: f"/api/v1/sessions/?{month}&page_size={n}&page=2" for n in (10, 100)},
        ),
        listing(
            "my sessions of a year (?mine=true)",
            [f"{mine}&page_size=100"],
            {n: f"{mine}&page_size={n}" for n in (10, 100)},
        ),
        listing(
            "a facilitator's sessions of a year (?facilitator=)",
            [f"{by_facilitator}&page_size=100"],
            {n: f"{by_facilitator}&page_size={n}" for n in (10, 100)},
        ),
        {
            "name": "session roster (GET)",
            "user": "user",
            "api": [("GET", f"/api/v1/sessions/{s}/attendance/", "") for s in sessions],
            "floor": [("GET", f"/bench-floor/sessions/{s}/attendance/", "") for s in sessions],
            "count": {n: f"/api/v1/sessions/{sessions[0]}/attendance/" for n in (10, 100)},
        },
        {
            "name": "mark a roster (PUT, changed marks)",
            "user": "user",
            "api": put_fresh,
            "floor": None,
            # Counted for a PUT that changes every mark: "late" after "present".
            "count_put": put_fresh[len(sessions)],
            "count_after": put_fresh[0],
        },
        {
            "name": "mark a roster (PUT, same marks)",
            "user": "user",
            "api": put_same,
            "floor": None,
            "count_put": put_same[0],
            "count_after": put_same[0],  # the same marks again
        },
        listing(
            "100 participants (legal names, listed event)",
            [f"/api/v1/participants/?page_size=100&page={n}" for n in range(1, 11)],
            {n: f"/api/v1/participants/?page_size={n}&page=2" for n in (10, 100)},
        ),
        listing(
            "100 attendance records, updated_since",
            [f"/api/v1/attendance/?updated_since={since}&page_size=100&page={n}" for n in range(1, 11)],
            {n: f"/api/v1/attendance/?updated_since={since}&page_size={n}" for n in (10, 100)},
        ),
        listing(
            "sync: the first page of a full copy (sync=start)",
            ["/api/v1/attendance/?sync=start&page_size=100"],
            {n: f"/api/v1/attendance/?sync=start&page_size={n}" for n in (10, 100)},
        ),
        listing(
            "sync: its last 10 pages, by cursor",
            [f"/api/v1/attendance/?cursor={q(c)}&page_size=100" for c in p["sync_cursors"]],
            {n: f"/api/v1/attendance/?cursor={q(p['sync_cursors'][0])}&page_size={n}"
             for n in (10, 100)},
        ),
        listing(
            "audit log, newest 100",
            ["/api/v1/audit-events/?page_size=100"],
            {n: f"/api/v1/audit-events/?page_size={n}" for n in (10, 100)},
            user="admin",
        ),
        listing(
            f"audit log, 100 at {p['audit_depth']:,} events back",
            deep,
            {n: deep[0].replace("page_size=100", f"page_size={n}") for n in (10, 100)},
            user="admin",
        ),
    ]  # fmt: skip


# --- Queries per request (in process) -----------------------------------------------------


def count_queries(p: dict, eps: list[dict]) -> None:
    from django.core.cache import cache
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    clients = {
        who: Client(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=p[who])[1]}")
        for who in ("user", "admin")
    }
    for ep in eps:
        client = clients[ep["user"]]
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
            cache.clear()  # a long list's kept count would hide its first page's COUNT
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
        self.machine_before, self.started = _machine_busy(), time.monotonic()
        return self

    def __exit__(self, *exc):
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = time.monotonic() - self.started
        self.ms = {}
        for side, pids in cpu_pids(self.server).items():
            ticks = sum(_ticks(pid) - self.before.get(pid, 0) for pid in pids)
            self.ms[side] = ticks * 1000 / hz
        # Cores kept busy by everything else meanwhile: wrk, the other helpers, PostgreSQL's
        # own background work. What the cores give this run depends on it.
        busy = (_machine_busy() - self.machine_before) / hz
        self.others = max(0.0, busy - (self.ms["web"] + self.ms["db"]) / 1000) / elapsed


def _machine_busy() -> int:
    """Clock ticks all cores spent on anything but idling, since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle


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
    from audit.models import AuditEvent
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
        "audit events": AuditEvent.objects.count(),
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


def median(values):
    return statistics.median(values) if values else float("nan")


def summary(rounds: list[dict]) -> dict:
    """Medians over the rounds of one side of one endpoint."""
    cpu = [r["web_cpu_ms"] + r["db_cpu_ms"] for r in rounds]
    return {
        "rps": median([r["rps"] for r in rounds]),
        "p50": median([r["p50"] for r in rounds]),
        "p95": median([r["p95"] for r in rounds]),
        "p95_max": max(r["p95"] for r in rounds),
        "web_cpu_ms": median([r["web_cpu_ms"] for r in rounds]),
        "db_cpu_ms": median([r["db_cpu_ms"] for r in rounds]),
        "cpu_ms": median(cpu),
        "others": median([r["others"] for r in rounds]),
        "errors": sum(r["errors"] for r in rounds),
        "requests": sum(r["requests"] for r in rounds),
    }


def ratios(api_rounds: list[dict], floor_rounds: list[dict]) -> dict:
    """API / floor per round (each round measures both within seconds of each other, so the
    machine's mood is shared), then the median and the spread of those ratios."""
    by_rps = [a["rps"] / f["rps"] for a, f in zip(api_rounds, floor_rounds, strict=True)]
    by_cpu = [
        (f["web_cpu_ms"] + f["db_cpu_ms"]) / (a["web_cpu_ms"] + a["db_cpu_ms"])
        for a, f in zip(api_rounds, floor_rounds, strict=True)
    ]
    return {
        "rps": median(by_rps), "rps_min": min(by_rps), "rps_max": max(by_rps),
        "cpu": median(by_cpu), "cpu_min": min(by_cpu), "cpu_max": max(by_cpu),
    }  # fmt: skip


def report(facts: dict, sizes: dict, eps: list[dict], tables: list[tuple], extra: list[str]) -> str:
    lines = [
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory']}; {facts['software']}",
        f"Commit: {facts['commit']}    Run: {facts['when']}    Server: {facts['server']}",
        f"Load: {facts['load']} before the run, {facts['load_after']} after it; other processes "
        f"kept {facts['others']:.2f} of the {facts['cores']} cores busy meanwhile (median of the "
        "rounds, wrk included)",
        "Data: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items()),
        f"Sync: the facilitator's full copy holds {facts['sync_marks']:,} marks; its last pages "
        f"start {facts['sync_depth']:,} in",
        f"Rounds: {facts['rounds']} × (API {facts['seconds']} s, then floor {facts['seconds']} s) "
        f"per endpoint after a {facts['warmup']} s warm-up of each; wrk, {facts['connections']} "
        f"connections; as {facts['user']} (audit log: {facts['admin']})",
        "",
        "| endpoint | req/s | p50 ms | p95 ms | CPU ms/req web + db | floor req/s | floor p95 ms "
        "| floor CPU ms/req | API / floor req/s (min–max) | API / floor by CPU (min–max) "
        "| queries (page 10 / 100) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
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
            r = ep["ratios"]
            row += [f"{floor['rps']:.0f}", f"{floor['p95']:.1f}",
                    f"{floor['web_cpu_ms']:.1f} + {floor['db_cpu_ms']:.1f}",
                    f"{r['rps']:.2f} ({r['rps_min']:.2f}–{r['rps_max']:.2f})",
                    f"{r['cpu']:.2f} ({r['cpu_min']:.2f}–{r['cpu_max']:.2f})"]  # fmt: skip
        else:
            row += ["—"] * 5
        lines.append("| " + " | ".join(row + [queries]) + " |")
    lines += ["", "| table | rows | table | indexes | total |", "|---|---:|---:|---:|---:|"]
    for name, rows, heap, indexes, total in tables:
        rows = f"{rows:,}" if rows >= 0 else "?"  # -1: never analysed yet
        lines.append(f"| {name} | {rows} | {mb(heap)} | {mb(indexes)} | {mb(total)} |")
    return "\n".join(lines + extra)


def measure(server, port, token, requests_, seconds, connections) -> dict:
    with CPUMeter(server) as cpu:
        result = wrk(port, token, requests_, seconds, connections)
    n = max(result["requests"], 1)
    result["web_cpu_ms"] = cpu.ms["web"] / n
    result["db_cpu_ms"] = cpu.ms["db"] / n
    result["others"] = cpu.others
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/krag_scale"),
    )
    parser.add_argument("--port", type=int, default=8171)
    parser.add_argument("--rounds", type=int, default=5, help="API-then-floor rounds per endpoint")
    parser.add_argument("--seconds", type=int, default=5, help="of each side in each round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=40, help="sessions the roster runs cycle")
    parser.add_argument("--audit-depth", type=int, default=50_000, help="events back, deep page")
    parser.add_argument("--only", help="run only the endpoints whose name contains this")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--queries-only", action="store_true", help="count queries per request, start no server"
    )
    parser.add_argument("--reports", action="store_true", help="also time the PDF reports")
    args = parser.parse_args()

    setup(args.database_url)
    from django.core.management import call_command

    from clinics.fields import DecryptionError
    from clinics.management.commands.seed_scale import PASSWORD
    from clinics.models import Participant

    call_command("migrate", verbosity=0)  # the code under test may bring new migrations
    stored = Participant.objects.exclude(legal_name="").values_list("legal_name", flat=True)
    try:
        stored[:1].get()
    except Participant.DoesNotExist:
        raise SystemExit("The scale data has no legal names: seed it again (seed_scale).") from None
    except DecryptionError:
        raise SystemExit(
            "Legal names cannot be decrypted: seed with the FIELD_ENCRYPTION_KEYS that "
            "bench/run.py sets in BENCH_ENV (docs/benchmarks.md)."
        ) from None

    p = plan(args.sessions, args.audit_depth)
    eps = endpoints(p)
    if args.only:
        eps = [ep for ep in eps if args.only in ep["name"]]
    count_queries(p, eps)
    if args.queries_only:
        for ep in eps:
            print(f"{ep['name']:<52} {ep['queries']}")
        return
    facts = machine()
    sizes = data_size()
    from django.db import connections

    connections.close_all()  # the server's processes must not inherit this one's connection

    server_env = {k: v for k, v in os.environ.items() if k in BENCH_ENV or k == "DATABASE_URL"}
    server = start_server(args.port, server_env)
    others = []
    try:
        tokens = {
            "user": login(args.port, p["user"].username, PASSWORD),
            "admin": login(args.port, p["admin"].username, PASSWORD),
        }
        for ep in eps:
            token = tokens[ep["user"]]
            sides = [side for side in ("api", "floor") if ep[side]]
            for side in sides:
                check_once(args.port, token, *ep[side][0])
                if args.warmup:
                    wrk(args.port, token, ep[side], args.warmup, args.connections)
            rounds = {side: [] for side in sides}
            for n in range(args.rounds):
                for side in sides:  # A B A B …: both sides of a round share the machine's mood
                    result = measure(
                        server, args.port, token, ep[side], args.seconds, args.connections
                    )
                    rounds[side].append(result)
                    others.append(result["others"])
                    print(f"  {ep['name']:<52} {side:<5} round {n + 1}: {result['rps']:6.0f} req/s "
                          f"p95 {result['p95']:6.1f} ms  CPU/req {result['web_cpu_ms']:.1f} + "
                          f"{result['db_cpu_ms']:.1f} ms  others {result['others']:.2f} cores",
                          file=sys.stderr)  # fmt: skip
            ep["rounds"] = rounds
            ep["result"] = summary(rounds["api"])
            if "floor" in rounds:
                ep["floor_result"] = summary(rounds["floor"])
                ep["ratios"] = ratios(rounds["api"], rounds["floor"])
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
        rounds=args.rounds,
        user=p["user"].username,
        admin=p["admin"].username,
        sync_marks=p["sync_marks"],
        sync_depth=p["sync_depth"],
        load_after="load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        others=median(others),
    )
    extra = []
    if args.reports:
        from bench.reports_timing import measure as measure_reports
        from bench.reports_timing import table as reports_table

        print("  reports…", file=sys.stderr)
        extra = ["", *reports_table(measure_reports())]
    text = report(facts, sizes, eps, table_sizes(), extra)
    print(text)
    if args.json:
        keep = ("name", "result", "floor_result", "ratios", "rounds", "queries")
        Path(args.json).write_text(
            json.dumps(
                {
                    "facts": facts,
                    "data": sizes,
                    "endpoints": [{k: v for k, v in ep.items() if k in keep} for ep in eps],
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
