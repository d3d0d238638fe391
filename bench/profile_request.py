"""Where a request's time goes: cProfile over repeated requests, in process, on the scale data.

    DATABASE_URL=postgres://…/krag_scale .venv/bin/python bench/profile_request.py participants
    .venv/bin/python bench/profile_request.py sessions --repeat 200 --sort tottime
    .venv/bin/python bench/profile_request.py sessions --floor      # the floor, the same way

Uses the same settings and user as bench/run.py (DEBUG off), Django's test client with a knox
token, and prints the top functions. For finding what to make cheaper, not for figures.
"""

import argparse
import cProfile
import datetime
import pstats
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: settings, the user, the sessions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "endpoint",
        choices=["sessions", "mine", "roster", "participants", "attendance", "audit", "put"],
    )
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--floor", action="store_true", help="profile the floor of the endpoint")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=45)
    parser.add_argument("--callers", help="also print who calls the functions matching this")
    parser.add_argument("--database-url", default=run.os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    run.setup(args.database_url)

    from django.db import transaction
    from django.test import Client
    from django.utils import timezone
    from knox.models import AuthToken

    p = run.plan(20)
    who = "admin" if args.endpoint == "audit" else "user"
    _instance, token = AuthToken.objects.create(user=p[who])
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    since = urllib.parse.quote((timezone.now() - datetime.timedelta(days=30)).isoformat())
    month = "&".join(
        f"{k}={urllib.parse.quote(v)}"
        for k, v in zip(("starts_after", "starts_before"), p["month"], strict=True)
    )
    year = "&".join(
        f"{k}={urllib.parse.quote(v)}"
        for k, v in zip(("starts_after", "starts_before"), p["year"], strict=True)
    )
    session = p["sessions"][0]
    paths = {
        "sessions": f"/api/v1/sessions/?{month}&page_size=100&page=2",
        "mine": f"/api/v1/sessions/?mine=true&{year}&page_size=100",
        "roster": f"/api/v1/sessions/{session}/attendance/",
        "participants": "/api/v1/participants/?page_size=100&page=2",
        "attendance": f"/api/v1/attendance/?updated_since={since}&page_size=100",
        "audit": f"/api/v1/audit-events/?older={p['audit_cursors'][0]}&page_size=100",
    }

    def once(i):
        if args.endpoint == "put":
            status = ("present", "late")[i % 2]
            body = run.marks_body(p["rosters"][session], status)
            with transaction.atomic():
                response = client.put(
                    f"/api/v1/sessions/{session}/attendance/", body, content_type="application/json"
                )
        else:
            path = paths[args.endpoint]
            response = client.get(path.replace("/api/v1/", "/bench-floor/") if args.floor else path)
        assert response.status_code == 200, response.content[:300]

    for i in range(10):  # warm caches, connections, translations
        once(i)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for i in range(args.repeat):
        once(i)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.endpoint}: {elapsed / args.repeat * 1000:.1f} ms per request under the profiler")
    stats = pstats.Stats(profiler).sort_stats(args.sort)
    stats.print_stats(args.limit)
    if args.callers:
        stats.print_callers(args.callers)


if __name__ == "__main__":
    main()
