"""Test settings: the real settings module, with the few things a test run must pin down."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("SECURE_SSL_REDIRECT", "off")
os.environ.setdefault("SECURE_COOKIES", "off")
# A test database per run; the pool is exercised by the benchmark and production, while tests
# open and close many short connections that a pool would keep the test database busy with.
os.environ.setdefault("DATABASE_POOL", "off")
# Field encryption (clinics/fields.py): a fixed test-only key, so tests run with DEBUG off.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=")

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
REST_FRAMEWORK = {  # noqa: F405
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        "user_write": "10000/min",
        "login": "1000/min",
        "login_address": "1000/min",
    },
}
