"""Restart a PostgreSQL under a serving web process (issue 15): once the database is back, no
request fails. The pool checks each connection as it leaves it (psycopg_pool's `check`), so
the connections the restart killed are replaced instead of handed to a request.

The cluster is the suite's own (initdb/pg_ctl on FAULTS_PG_PORT), served by gunicorn with the
production settings' pool, on a port of the fault suite's range (FAULTS_WEB_PORT, 8130).
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from .conftest import _port_open, kill, wait_for

pytestmark = pytest.mark.django_db  # the suite's test database is not the one restarted

WEB_PORT = int(os.environ.get("FAULTS_WEB_PORT", "8130"))
REQUESTS = 40


def status_of(path: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
        f"http://127.0.0.1:{WEB_PORT}{path}",
        data=data,
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def environment(database_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DATABASE_POOL": "on",
        "SECRET_KEY": "faults-only-secret-key-" + "x" * 30,
        "FIELD_ENCRYPTION_KEYS": "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "off",
        "SECURE_COOKIES": "off",
        "DJANGO_SUPERUSER_PASSWORD": "faults-password",
        "THROTTLE_LOGIN": "1000/min",  # one user signs in twenty times here
        "KRAG_VAR_DIR": str(Path(settings.BASE_DIR) / "var" / "faults"),
    }


def test_no_request_fails_once_a_restarted_database_is_back(scratch_postgres, tmp_path, figures):
    env = environment(scratch_postgres.url)
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--no-input", "-v", "0"], ["createsuperuser", "--no-input"]):
        subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [*manage, *command, "--username", "root", "--email", "root@example.org"]
            if command[0] == "createsuperuser"
            else [*manage, *command],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            timeout=600,
        )
    if _port_open(WEB_PORT):
        pytest.fail(f"port {WEB_PORT} is taken")
    log = tmp_path / "gunicorn.log"
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1"]
    gunicorn += ["--bind", f"127.0.0.1:{WEB_PORT}", "--timeout", "60"]
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            gunicorn,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    login = b'{"username": "root", "password": "faults-password"}'
    try:
        wait_for(lambda: _port_open(WEB_PORT), "gunicorn to listen", log)
        # Warm: the pool holds open connections, the ones the restart will kill.
        warm = [status_of("/health/") for _ in range(5)] + [status_of("/api/v1/auth/token/", login)]
        assert warm == [200] * 5 + [200], log.read_text()[-3000:]

        started = time.monotonic()
        scratch_postgres.restart()
        restart_seconds = time.monotonic() - started
        answers = []
        for n in range(REQUESTS):
            if n % 2:
                answers.append(status_of("/api/v1/auth/token/", login))
            else:
                answers.append(status_of("/health/"))
    finally:
        kill(server)

    figures.update(
        requests_after_restart=REQUESTS,
        requests_5xx_after_recovery=sum(code >= 500 for code in answers),
        restart_seconds=round(restart_seconds, 1),
    )
    assert answers == [200] * REQUESTS, log.read_text()[-3000:]
