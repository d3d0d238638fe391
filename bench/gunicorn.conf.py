"""gunicorn for the benchmark (and a starting point for production) on a 2-core machine.

Two sync worker processes, one per core, one request at a time each. Measured against
2 workers × 4 threads (gthread) on the quiet 2-core machine with the same data and load
(docs/benchmarks.md): sync served 10–25 % more requests per second and cut the p95 of the
reads by half. Threads in one process queue on the GIL, and a keep-alive connection stays
with the worker that accepted it, so 8 clients were not spread evenly over the two; a sync
worker closes each connection and the next request goes to whichever worker is free. While
a sync worker waits for PostgreSQL its core is not idle: PostgreSQL runs on the same cores.
Each process keeps its own psycopg pool (settings: DATABASE_POOL_MAX).
"""

import os

bind = os.environ.get("KRAG_BENCH_BIND", "127.0.0.1:8171")
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
worker_class = os.environ.get("KRAG_BENCH_WORKER_CLASS", "sync")
threads = int(os.environ.get("KRAG_BENCH_THREADS", 1))  # gthread only
# No preload_app: each worker imports Django itself, so no connection pool is ever forked.
keepalive = 5  # gthread only: sync workers close each connection
timeout = 60
accesslog = None
errorlog = "-"
loglevel = "warning"
