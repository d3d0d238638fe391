"""gunicorn for the benchmark (and a starting point for production) on a 2-core machine.

Two worker processes, one per core. Each runs a few threads so that one request's wait for
PostgreSQL does not leave the core idle; more threads would only queue on the GIL. Each
process keeps its own psycopg pool (settings: DATABASE_POOL_MAX), so the pool must hold at
least as many connections as there are threads.
"""

import os

bind = os.environ.get("KRAG_BENCH_BIND", "127.0.0.1:8171")
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
worker_class = os.environ.get("KRAG_BENCH_WORKER_CLASS", "gthread")
threads = int(os.environ.get("KRAG_BENCH_THREADS", 4))
# No preload_app: each worker imports Django itself, so no connection pool is ever forked.
keepalive = 5  # the load tool reuses its connections, as the mobile app's HTTP client does
timeout = 60
accesslog = None
errorlog = "-"
loglevel = "warning"
