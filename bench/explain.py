"""EXPLAIN ANALYZE every query the benchmarked endpoints run, slowest first.

    .venv/bin/python bench/explain.py                 # all endpoints, the 12 slowest queries
    .venv/bin/python bench/explain.py --only roster --all

Each endpoint is called once in process with the test client (as bench/run.py counts queries),
its queries are captured, and each SELECT is explained with (ANALYZE, BUFFERS) on the scale
database. PUTs run inside a transaction that is rolled back.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import endpoints, plan, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/krag_scale"),
    )
    parser.add_argument("--only", help="endpoints whose name contains this")
    parser.add_argument("--all", action="store_true", help="every query, not the 12 slowest")
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    setup(args.database_url)

    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    p = plan(4)
    clients = {
        who: Client(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=p[who])[1]}")
        for who in ("user", "admin")
    }
    explained = []
    for ep in endpoints(p):
        if args.only and args.only not in ep["name"]:
            continue
        client = clients[ep["user"]]
        with transaction.atomic():
            with CaptureQueriesContext(connection) as ctx:
                if "count_put" in ep:
                    _method, path, body = ep["count_put"]
                    client.put(path, body, content_type="application/json")
                else:
                    client.get(ep["count"][100 if args.page_size >= 100 else 10])
            for query in ctx.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    lines = [row[0] for row in cursor.fetchall()]
                ms = float(lines[-1].split(":")[1].split()[0])  # "Execution Time: 1.234 ms"
                explained.append((ms, ep["name"], sql, lines))
            transaction.set_rollback(True)
    explained.sort(key=lambda item: -item[0])
    for ms, name, sql, lines in explained if args.all else explained[:12]:
        print(f"=== {ms:8.2f} ms  {name}\n{sql}\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
