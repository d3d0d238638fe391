"""Time a 50,000-row import, and its peak memory, on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres krag_bench_imports
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/krag_bench_imports
    DEBUG=1 .venv/bin/python manage.py migrate
    .venv/bin/python bench/imports.py                   # --rows 50000 --format csv|xlsx

A participants file of `--rows` rows (alias, the file's own id, a name, an e-mail, the
participation, health-data and contact consents) is written to a temporary file, then each
step runs in a fresh process, so its peak resident memory is its own (Django included; the
size before the step is in brackets):

1. upload: `import_upload`, what the web request does: a file above IMPORT_BACKGROUND_ROWS is
   stored encrypted and the job returned CHECKING (the check's task is not queued here);
2. check: `import_check`, what the Celery worker runs next: every row checked in bulk;
3. apply: `import_run`, what the Celery worker runs: every row through the (bulk) services,
   in one transaction, with its audit events;
4. again: the same file uploaded, checked and applied a second time (every row matched,
   nothing written: the idempotency a redelivered task relies on); its time is the sum, the
   parts are printed too.

Each run makes a new institution and admin, so runs do not see each other's participants.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "bench-only-secret-key",
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=",
    "DATABASE_POOL": "off",
    "LOG_LEVEL": "WARNING",
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def write_file(path: Path, rows: int, fmt: str) -> None:
    header = [
        "id", "alias", "legal_name", "email", "reminder_channel",
        "consent_participation_date", "consent_participation_version",
        "consent_health_data_date", "consent_health_data_version",
        "consent_contact_date", "consent_contact_version",
    ]  # fmt: skip

    def lines():
        for n in range(1, rows + 1):
            yield [
                f"B-{n}", f"Osoba {n}", f"Imię Nazwisko {n}", f"osoba{n}@example.org", "email",
                "2026-09-01", "v1", "2026-09-01", "v1", "2026-09-01", "v1",
            ]  # fmt: skip

    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("uczestnicy")
        sheet.append(header)
        for line in lines():
            sheet.append(line)
        workbook.save(path)
    else:
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write(",".join(header) + "\n")
            for line in lines():
                out.write(",".join(line) + "\n")


def step(name: str, path: str) -> dict:
    """One step, in this (fresh) process."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.db import connection

    from clinics.models import Institution, StaffMembership
    from imports import tasks
    from imports.engine import Progress
    from imports.models import ImportJob
    from imports.services import import_apply, import_check, import_upload

    tasks.check_import.delay = lambda job_id: None  # the bench runs the check itself, timed

    save = Progress.save

    def report(progress):  # rows written so far, on stderr: a long run shows its pace
        save(progress)
        if progress.written and progress.written % 5000 == 0:
            print(f"{time.strftime('%H:%M:%S')} {name}: {progress.written} rows written",
                  file=sys.stderr, flush=True)  # fmt: skip

    Progress.save = report
    start_mb = _peak_mb()
    if name == "upload":
        institution = Institution.objects.create(name=f"Bench imports {time.time():.0f}")
        user = get_user_model().objects.create(username=f"bench-import-{institution.pk}")
        StaffMembership.objects.create(user=user, institution=institution, role="admin")
    else:
        job = ImportJob.objects.order_by("-pk").first()
        institution, user = job.institution, job.created_by
    began = time.perf_counter()
    parts = {}

    def upload():
        with open(path, "rb") as handle:
            return import_upload(
                kind="participants", file=File(handle, name=Path(path).name), by=user,
                institution=institution,
            )  # fmt: skip

    def timed(part, call):
        start = time.perf_counter()
        outcome = call()
        parts[part] = round(time.perf_counter() - start, 1)
        return outcome

    if name == "upload":
        job = upload()
    elif name == "check":
        job = import_check(job_id=job.pk)
    elif name == "apply":
        job = import_apply(job=job, by=user)
    else:  # again
        job = timed("upload", upload)
        job = timed("check", lambda: import_check(job_id=job.pk))
        job = timed("apply", lambda: import_apply(job=job, by=user))
    seconds = time.perf_counter() - began
    return {
        "step": name,
        "seconds": round(seconds, 1),
        "parts": parts,
        "peak_mb": round(_peak_mb()),
        "start_mb": round(start_mb),
        "status": job.status,
        "rows": job.rows,
        "created": job.created,
        "unchanged": job.unchanged,
        "problems": job.problem_count,
        "database": connection.vendor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(
        {k: v for k, v in ENV.items() if k not in os.environ or k.startswith("IMPORT")}
    )
    if args.step:
        print(json.dumps(step(args.step, args.path)))
        return
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"participants.{args.format}"
        write_file(path, args.rows, args.format)
        size_mb = path.stat().st_size / 1024 / 1024
        for name in ("upload", "check", "apply", "again"):
            out = subprocess.run(  # noqa: S603 - our own interpreter and script
                [sys.executable, __file__, "--step", name, "--path", str(path)],
                check=True, stdout=subprocess.PIPE, text=True, env=os.environ,
            )  # fmt: skip
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # a long run's steps
    print(f"{args.rows} rows, {args.format}, {size_mb:.1f} MB, on {results[0]['database']}")
    print("| step | time | peak memory (at start) | outcome |")
    print("|---|---|---|---|")
    for r in results:
        outcome = f"{r['status']}: {r['created']} created, {r['unchanged']} unchanged"
        if r["parts"]:
            outcome += " (" + ", ".join(f"{k} {v} s" for k, v in r["parts"].items()) + ")"
        print(
            f"| {r['step']} | {r['seconds']} s | {r['peak_mb']} MB ({r['start_mb']} MB) | {outcome} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
