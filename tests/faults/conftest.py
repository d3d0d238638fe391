"""The fault suite (issue 15): real Celery workers, a Redis and a PostgreSQL of its own, killed,
stopped and restarted at the worst moments; each test asserts what was sent, rendered and
stored, and leaves its figures in `var/faults/figures.json` (docs/reliability.md quotes them).

Opt-in: `KRAG_FAULTS=1` and a PostgreSQL DATABASE_URL (the workers are other processes, so they
must reach the test database). Its own Redis runs on FAULTS_REDIS_PORT (56380) and its own
PostgreSQL cluster on FAULTS_PG_PORT (55433), made with initdb under a temporary directory, as
the `postgres` system user when run as root: the machine's servers are never stopped. Every
wait is bounded and every process it starts is killed in a `finally`.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.workers import celery_worker, kill, publishing_to
from tests.workers import wait_for as _wait_for

REDIS_PORT = int(os.environ.get("FAULTS_REDIS_PORT", "56380"))
PG_PORT = int(os.environ.get("FAULTS_PG_PORT", "55433"))
WAIT = 120  # seconds: the longest any step may take before the test fails
FIGURES = Path(settings.BASE_DIR) / "var" / "faults" / "figures.json"
_figures: dict[str, dict] = {}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)
            if os.environ.get("KRAG_FAULTS") != "1":
                item.add_marker(pytest.mark.skip(reason="the fault suite runs with KRAG_FAULTS=1"))


def pytest_terminal_summary(terminalreporter):
    if not _figures:
        return
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(_figures, indent=2, sort_keys=True) + "\n")
    terminalreporter.section("fault suite figures")
    for name, figures in sorted(_figures.items()):
        terminalreporter.write_line(f"{name}: {json.dumps(figures, sort_keys=True)}")


@pytest.fixture
def figures(request):
    """A dict the test fills with what it counted; printed and saved at the end of the run."""
    found: dict = {}
    yield found
    _figures[request.node.name] = found


@pytest.fixture(autouse=True)
def _needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the workers are other processes: they need PostgreSQL (DATABASE_URL)")


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition, what: str, *logs: Path, timeout: float = WAIT):
    _wait_for(condition, what, *logs, timeout=timeout)


class ScratchRedis:
    """A redis-server of the suite's own, without persistence: stopping it loses its queue."""

    def __init__(self, folder: Path):
        self.folder, self.process = folder, None
        self.url = f"redis://127.0.0.1:{REDIS_PORT}/0"

    def start(self):
        if _port_open(REDIS_PORT):
            pytest.fail(f"port {REDIS_PORT} is taken: another fault run, or a stale redis")
        command = ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        # The port can be briefly held as the local end of some client's outgoing connection
        # (it lies in the ephemeral range): then redis-server exits at once, and is tried again.
        for _attempt in range(20):
            self.process = subprocess.Popen(  # noqa: S603 - a fixed command
                command,
                stdout=(self.folder / "redis.log").open("a"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            wait_for(
                lambda: _port_open(REDIS_PORT) or self.process.poll() is not None,
                "the scratch Redis to listen",
            )
            if self.process.poll() is None:
                return
            time.sleep(1)
        pytest.fail(f"the scratch Redis could not listen on {REDIS_PORT}: see redis.log")

    def stop(self):
        if self.process is not None:
            kill(self.process)
            self.process = None
        wait_for(lambda: not _port_open(REDIS_PORT), "the scratch Redis to stop")


@pytest.fixture
def scratch_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    redis = ScratchRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def publishing(scratch_redis):
    """This process publishes its tasks to the scratch Redis instead of running them eagerly."""
    with publishing_to(scratch_redis.url):
        yield scratch_redis


def worker(tmp_path: Path, name: str, broker_url: str, *, pool="solo", concurrency=1, **env):
    """A `celery worker` subprocess on the test database and the given broker."""
    return celery_worker(
        tmp_path,
        name,
        broker_url=broker_url,
        app="tests.faults.stalling",
        settings_module="tests.faults.worker_settings",
        pool=pool,
        concurrency=concurrency,
        **env,
    )


def mail_headers(tmp_path: Path, header: str) -> list[str]:
    """The values of one header over every e-mail the workers wrote to files."""
    folder = tmp_path / "mail"
    prefix = f"{header}: "
    return sorted(
        line.removeprefix(prefix).strip()
        for path in (folder.iterdir() if folder.exists() else [])
        for line in path.read_text().splitlines()
        if line.startswith(prefix)
    )


# --- A PostgreSQL cluster of the suite's own ----------------------------------------------------


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    pytest.skip(f"{name} is not installed")


class ScratchPostgres:
    """initdb/pg_ctl on a temporary directory and FAULTS_PG_PORT, never the machine's server."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.url = f"postgres://postgres@127.0.0.1:{PG_PORT}/krag_faults"

    def _run(self, *command: str, timeout=120):
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to `postgres`
            command = ("runuser", "-u", "postgres", "--", *command)
        return subprocess.run(  # noqa: S603 - fixed commands
            command, check=True, capture_output=True, text=True, timeout=timeout
        )

    def create(self):
        if _port_open(PG_PORT):
            pytest.fail(f"port {PG_PORT} is taken: another fault run, or a stale cluster")
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self.start()
        self._run(
            _pg_bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(PG_PORT),
            "-U",
            "postgres",
            "krag_faults",
        )

    def start(self):
        options = f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "pg.log"),
            "-w",
            "start",
        )

    def restart(self):
        options = f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "pg.log"),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def destroy(self):
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def scratch_postgres():
    cluster = ScratchPostgres(Path(f"/tmp/krag-faults-pg-{os.getpid()}"))  # noqa: S108 - our own, removed after
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()


# The reports' world (six named members of group_a over October 2026).
from tests.reports.conftest import world  # noqa: E402, F401
