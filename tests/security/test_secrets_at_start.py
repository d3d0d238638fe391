"""Without DEBUG the secrets come from the environment: commands that need none run without
them, and the web application and the Celery processes refuse to start without them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from clinics.fields import _multi_fernet, check_encryption_keys, check_encryption_keys_set
from config.celery import _require_secrets

ROOT = Path(__file__).resolve().parents[2]


def _without_secrets(*argv):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_migration_and_check_commands_run_without_secrets():
    made = _without_secrets("manage.py", "makemigrations", "--check", "--dry-run")
    assert made.returncode == 0, made.stderr
    assert "No changes detected" in made.stdout


def test_the_web_application_refuses_to_start_without_them():
    started = _without_secrets("-c", "import config.wsgi")
    assert started.returncode != 0
    assert "The SECRET_KEY setting must not be empty." in started.stderr


@override_settings(FIELD_ENCRYPTION_KEYS=[])
def test_without_encryption_keys_deploy_checks_fail_and_workers_refuse_to_start():
    _multi_fernet.cache_clear()
    assert check_encryption_keys() == []  # a missing key is no malformed key
    [error] = check_encryption_keys_set()
    assert error.id == "clinics.E002"
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS must be set"):
        _require_secrets()
