"""The offline dependency check (issue 15): CI knows exactly what it installed, even where
pip-audit cannot reach its vulnerability data."""

import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def check_lock(lock: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"} | ({"KRAG_LOCK_FILE": str(lock)} if lock else {})
    return subprocess.run(  # noqa: S603 - our own script
        ["/bin/sh", "scripts/check-lock"],  # noqa: S607
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_installed_packages_are_exactly_the_reviewed_lock():
    result = check_lock()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exactly what .venv holds" in result.stdout


def test_a_package_installed_at_another_version_than_locked_fails_the_check(tmp_path):
    lock = (ROOT / "requirements.lock").read_text()
    django_pin = next(line for line in lock.splitlines() if line.startswith("django=="))
    tampered = tmp_path / "requirements.lock"
    tampered.write_text(lock.replace(django_pin, "django==5.2.0"))

    result = check_lock(tampered)

    assert result.returncode == 1
    assert "LOCK django: locked 5.2.0, installed" in result.stdout


def test_a_dependency_missing_from_the_lock_fails_the_check(tmp_path):
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    tampered = tmp_path / "requirements.lock"
    tampered.write_text("\n".join(line for line in lines if not line.startswith("celery==")))

    result = check_lock(tampered)

    assert result.returncode == 1
    assert "celery: in pyproject.toml, not in requirements.lock" in result.stdout
    assert "celery" in result.stdout and "installed but not in requirements.lock" in result.stdout
