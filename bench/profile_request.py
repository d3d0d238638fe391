"""Where a request's time goes: cProfile over repeated requests, in process, on the scale data.

    DATABASE_URL=postgres://…/krag_scale .venv/bin/python bench/profile_request.py participants
    .venv/bin/python bench/profile_request.py attendance --repeat 200 --sort tottime

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
        "endpoint", choices=["sessions", "roster", "participants", "attendance", "put"]
    )
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=45)
    parser.add_argument("--database-url", default=run.os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    run.setup(args.database_url)

    from django.db import transaction
    from django.test import Client
    from django.utils import timezone
    from knox.models import AuthToken

    p = run.plan(20)
    _instance, token = AuthToken.objects.create(user=p["user"])
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    since = urllib.parse.quote((timezone.now() - datetime.timedelta(days=30)).isoformat())
    session = p["sessions"][0]
    paths = {
        "sessions": "/api/v1/sessions/?mine=true&week=today&page_size=100",
        "roster": f"/api/v1/sessions/{session}/attendance/",
        "participants": "/api/v1/participants/?page_size=100",
        "attendance": f"/api/v1/attendance/?updated_since={since}&page_size=100",
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
            response = client.get(paths[args.endpoint])
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
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.limit)


if __name__ == "__main__":
    main()
