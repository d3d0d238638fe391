"""Time the PDF reports on the scale data, next to WeasyPrint's own time for the same HTML.

    .venv/bin/python bench/reports_timing.py

Two reports of the reports issue: the activity summary of the largest institution over the
last full quarter, and the attendance register of one of its groups over the last twelve
months. Each runs in a fresh process (so its peak memory is its own): the builder's queries,
the template, WeasyPrint's layout — the steps of `reports.services.report_render`, less storing
the file. The floor runs in another fresh process: WeasyPrint alone laying out the very same
HTML (`reports.rendering.html_to_pdf`).
"""

import argparse
import datetime
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


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def last_quarter(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    first_month = (today.month - 1) // 3 * 3 + 1
    this_quarter = today.replace(month=first_month, day=1)
    end = this_quarter - datetime.timedelta(days=1)
    start = end.replace(month=(end.month - 1) // 3 * 3 + 1, day=1)
    return start, end


def last_twelve_months(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    end = today.replace(day=1) - datetime.timedelta(days=1)
    start = end.replace(year=end.year - 1) + datetime.timedelta(days=1)
    return start, end


def specs() -> dict:
    """The two runs: who asks, for what (read from the scale data)."""
    from django.db.models import Count
    from django.utils import timezone

    from clinics.models import Institution, StaffMembership
    from sessions.models import SupportGroup

    institution = Institution.objects.annotate(n=Count("groups")).order_by("-n", "pk").first()
    admin = StaffMembership.objects.filter(institution=institution, role="admin").first().user
    group = (
        SupportGroup.objects.filter(institution=institution)
        .annotate(n=Count("sessions"))
        .order_by("-n", "pk")
        .first()
    )
    today = timezone.localdate()
    q_start, q_end = last_quarter(today)
    y_start, y_end = last_twelve_months(today)
    return {
        "activity_summary": {
            "institution": institution.pk,
            "by": admin.pk,
            "parameters": {
                "institution": institution.pk,
                "start": q_start.isoformat(),
                "end": q_end.isoformat(),
            },
            "what": f"{institution.name}, {q_start} – {q_end}",
        },
        "group_register": {
            "institution": institution.pk,
            "by": admin.pk,
            "parameters": {
                "group": group.pk,
                "start": y_start.isoformat(),
                "end": y_end.isoformat(),
            },
            "what": f"{group.name} ({institution.name}), {y_start} – {y_end}",
        },
    }


def run_one(report_type: str, spec: dict, html_path: str, language: str) -> dict:
    """In this (fresh) process: build, render the template, lay out the PDF."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.builders import build
    from reports.models import ReportRun
    from reports.rendering import html_to_pdf, render_html

    base = _peak_mb()
    run = ReportRun(
        institution_id=spec["institution"],
        type=report_type,
        language=language,
        parameters=spec["parameters"],
        requested_by_id=spec["by"],
    )
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        built = build(run)
    built_at = time.perf_counter()
    html = render_html(built.template, built.context, run.language)
    rendered_at = time.perf_counter()
    pdf = html_to_pdf(html)
    done = time.perf_counter()
    Path(html_path).write_text(html)
    return {
        "build_s": built_at - started,
        "template_s": rendered_at - built_at,
        "layout_s": done - rendered_at,
        "total_s": done - started,
        "queries": len(queries.captured_queries),
        "html_kb": len(html.encode()) / 1024,
        "pdf_kb": len(pdf) / 1024,
        "base_mb": base,
        "peak_mb": _peak_mb(),
    }


def run_floor(html_path: str) -> dict:
    """In this (fresh) process: WeasyPrint alone on the same HTML."""
    from reports.rendering import html_to_pdf

    html = Path(html_path).read_text()
    base = _peak_mb()
    started = time.perf_counter()
    html_to_pdf(html)
    return {"layout_s": time.perf_counter() - started, "base_mb": base, "peak_mb": _peak_mb()}


def _child(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if result.returncode:
        raise SystemExit(f"bench/reports_timing.py {' '.join(args)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(language: str = "pl") -> list[dict]:
    """Both reports, each and its floor in fresh processes; called by bench/run.py too."""
    rows = []
    for report_type, spec in specs().items():
        with tempfile.NamedTemporaryFile(suffix=".html", delete=False) as html_file:
            html_path = html_file.name
        try:
            report = _child("--one", report_type, "--html", html_path, "--language", language)
            floor = _child("--floor", html_path)
        finally:
            os.unlink(html_path)
        rows.append({"report": report_type, "what": spec["what"], **report, "floor": floor})
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| report | total s | build s (queries) | template s | layout s | WeasyPrint alone s "
        "| total / WeasyPrint | peak MB (process at start) | HTML / PDF KB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        f = r["floor"]
        lines.append(
            f"| {r['report']}: {r['what']} | {r['total_s']:.2f} | {r['build_s']:.2f} "
            f"({r['queries']}) | {r['template_s']:.2f} | {r['layout_s']:.2f} | "
            f"{f['layout_s']:.2f} | {r['total_s'] / f['layout_s']:.2f} | "
            f"{r['peak_mb']:.0f} ({r['base_mb']:.0f}) | {r['html_kb']:.0f} / {r['pdf_kb']:.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/krag_scale"),
    )
    parser.add_argument("--language", default="pl")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--html", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from bench.run import setup

    setup(args.database_url)
    if args.one:
        print(json.dumps(run_one(args.one, specs()[args.one], args.html, args.language)))
    elif args.floor:
        print(json.dumps(run_floor(args.floor)))
    else:
        print("\n".join(table(measure(args.language))))


if __name__ == "__main__":
    main()
