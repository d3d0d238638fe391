"""Krąg settings: one module, everything that differs between machines read from the environment.

The embedded default (no variables set) is SQLite under var/ and Celery running tasks eagerly,
so one machine with only Python can run the whole product.
"""

import base64
import datetime
import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KRAG_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# Without DEBUG the secrets (this key and FIELD_ENCRYPTION_KEYS below) come from the
# environment. Missing, they are left empty rather than refused here: a command that needs no
# secret (makemigrations, check, migrate) still runs, Django refuses an empty SECRET_KEY at its
# first use, and the web and worker processes refuse to start without them (config/secrets.py).
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "krag-development-only-secret-key-never-use-in-production"  # noqa: S105 - DEBUG only  # nosec B105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "audit",
    "clinics",
    "sessions.apps.GroupSessionsConfig",
    "attendance",
    "notifications",
    "reports",
    "imports",
    "api",
    "sync",
    "fhir.apps.FhirConfig",  # the read-only FHIR R4 facade (/fhir/r4/)
    "staff",
]

MIDDLEWARE = [
    "api.request_id.request_id_middleware",  # first: every answer carries X-Request-ID
    "api.middleware.APIErrorsMiddleware",  # /api/ errors are JSON, whoever answered them
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.context.AuditOriginMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL unset -> a SQLite file under var/. PostgreSQL goes through psycopg 3 with its
# connection pool (DATABASE_POOL=off to rely on an external pooler such as PgBouncer instead).
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'krag.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    # With the pool, Django hands psycopg_pool `check=ConnectionPool.check_connection`: every
    # connection is checked (an empty query) as it leaves the pool, so after a PostgreSQL
    # restart the dead ones are replaced, not handed to a request that would fail. Nothing is
    # retried: a request whose query was cut off by the restart itself still fails.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT compilation: Krąg's queries are short, and PostgreSQL's JIT, triggered by a cost
    # estimate, once spent 0.9 s compiling a notes query that then read nothing (the session
    # page, docs/benchmarks.md "The staff pages"). DATABASE_JIT=on gives it back, e.g. for a
    # reporting replica.
    if not env_bool("DATABASE_JIT", False):
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    if env_bool("DATABASE_POOL", True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN", 2),
            "max_size": env_int("DATABASE_POOL_MAX", 10),
            "timeout": 10,
        }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "pl"
LANGUAGES = [("pl", _("Polish")), ("en", _("English")), ("ar", _("Arabic"))]
# The project's catalogue first; the imports app keeps its own strings beside its code.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "imports" / "locale"]
TIME_ZONE = "Europe/Warsaw"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Staff web UI (staff/): its own sign-in page; the admin keeps its own.
LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:today"
LOGOUT_REDIRECT_URL = "staff:login"
# The language switcher remembers the choice for a year, not only until the browser closes.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds an SMTP server may stall before the send fails (Django waits forever by default).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Krąg <no-reply@krag.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SMS goes through a small backend interface (notifications/sms.py); logging is the default.
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.sms.LoggingSMSBackend")

# --- Celery ---------------------------------------------------------------------------------
# CELERY_BROKER_URL unset -> tasks run eagerly, in process (the embedded default).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# A task is acknowledged only once it finished, so one lost with its worker is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
    # A publisher (a web request) whose broker is down tries to connect twice, at once, then
    # gives up (about 6 s by Kombu's default): the work is committed, and the sweeps hand it
    # over later. The worker's own connection keeps retrying (broker_connection_retry).
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
# An outbox message claimed this long ago by a sender that never said how it went belongs to a
# dead worker (the hard time limit stops any live one sooner): its fate is unknown and it is
# sent again once (notifications/services/outbox.py). The margin covers clocks apart.
OUTBOX_SENDING_TIMEOUT = env_int("OUTBOX_SENDING_TIMEOUT", CELERY_TASK_TIME_LIMIT + 30)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# With late acknowledgement, a task still running when the broker connection drops is
# redelivered by the broker: stop it rather than let two copies run.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# The beat schedule of the periodic jobs lives in config/celery.py.
# --- Notifications (notifications/): the health check answers load balancers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# --- Reports (reports/) ----------------------------------------------------------------------
# The public address printed on certificates before /verify/<code>/ (e.g. https://krag.example.org);
# empty prints the path alone.
REPORTS_PUBLIC_URL = env_str("REPORTS_PUBLIC_URL")

# Reverse proxies in front of the web processes that append to X-Forwarded-For. One setting
# for everything that reads a client's address (DRF's throttles, django-axes, the audit log);
# 0, the default, ignores X-Forwarded-For altogether. AXES_PROXY_COUNT is its former name.
PROXY_COUNT = env_int("PROXY_COUNT", env_int("AXES_PROXY_COUNT", 0))

# --- Imports (imports/) ----------------------------------------------------------------------
# An upload larger than this is refused (bytes); files above the row threshold are checked
# through the services and written by a Celery worker, with a time limit of their own.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024)
IMPORT_BACKGROUND_ROWS = env_int("IMPORT_BACKGROUND_ROWS", 500)
IMPORT_MAX_PROBLEMS = env_int("IMPORT_MAX_PROBLEMS", 1000)
IMPORT_TASK_TIME_LIMIT = env_int("IMPORT_TASK_TIME_LIMIT", 2 * 3600)

# --- FHIR R4 facade (fhir/, docs/fhir.md) -----------------------------------------------------
# The URI namespace of Krąg's own identifier systems, code systems and the attendance-mark
# extension. example.org is reserved for documentation: a deployment that publishes its
# profiles sets its own address once, before any system stores identifiers read from it.
FHIR_CANONICAL_BASE = env_str("FHIR_CANONICAL_BASE", "https://krag.example.org/fhir")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # Page numbers; a long list is not counted on every page (api/paginator.py).
    "DEFAULT_PAGINATION_CLASS": "api.paginator.BrowsingPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "user_write": env_str("THROTTLE_USER_WRITE", "600/min"),
        # Sign-in attempts per username (guessing one account's password is slow) and per
        # client address, high enough for 200 staff behind one hospital NAT address at 08:00.
        "login": env_str("THROTTLE_LOGIN", "10/min"),
        "login_address": env_str("THROTTLE_LOGIN_ADDRESS", "600/min"),
    },
    # The client's address: REMOTE_ADDR unless PROXY_COUNT proxies are declared (below).
    # Never None, which would make DRF trust whatever X-Forwarded-For a client sends.
    "NUM_PROXIES": PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # The API speaks JSON only: errors are never an HTML page (api/exceptions.py maps the
    # services' ValidationError / PermissionDenied to 400 / 403 with field messages).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
# Device tokens (django-rest-knox): only a hash is stored; they expire and logout revokes them.
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 24 * 14)),
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Krąg API",
    "DESCRIPTION": "The REST API of Krąg, the back office for professionally led support groups.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
    # Several models have a `status`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "GroupStatusEnum": "sessions.models.SupportGroup.Status",
        "SessionStatusEnum": "sessions.models.Session.Status",
        "EnrollmentStatusEnum": "attendance.models.Enrollment.Status",
        "ConsentStatusEnum": "attendance.models.Consent.Status",
        "AttendanceStatusEnum": "attendance.models.AttendanceRecord.Status",
        "ImportKindEnum": "imports.models.ImportJob.Kind",
        "ImportStatusEnum": "imports.models.ImportJob.Status",
    },
}

# A Redis cache that is down answers like an empty one, logged (config/cache.py): the throttle
# then lets requests through rather than failing every API write with a 500.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache"
        if not env_str("CACHE_URL")
        else "config.cache.ForgivingRedisCache",
        "LOCATION": env_str("CACHE_URL", "krag"),
        **(
            {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
            if env_str("CACHE_URL")
            else {}
        ),
    }
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Security hardening (issue 7) -----------------------------------------------------------
# Encryption at rest of legal names and session notes (clinics/fields.py): Fernet keys,
# comma-separated; the first encrypts, all decrypt (rotation: put a new key first, run
# `manage.py rotate_encryption_keys`, then drop the old one). Only a development machine
# (DEBUG) or the test settings may run on a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(
            hashlib.sha256(f"krag-field-encryption:{SECRET_KEY}".encode()).digest()
        ).decode()
    ]
for _key in FIELD_ENCRYPTION_KEYS:  # a mistyped key would only fail at the first read
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc

INSTALLED_APPS += [
    "axes",  # sign-in lockout
    "django_otp",  # two-factor sign-in (TOTP)
    "django_otp.plugins.otp_totp",
    "csp",  # the Content-Security-Policy header
    "security",  # two-factor pages and policy, lockout and CSP wiring
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE[_auth + 1 : _auth + 1] = [
    "django_otp.middleware.OTPMiddleware",
    "security.middleware.TwoFactorMiddleware",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes asks

# Lockout (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one username from one
# address, that pair is refused for AXES_COOLOFF_MINUTES — in the staff UI, the admin and the
# API token login alike (they all call authenticate(request=...)). The address is REMOTE_ADDR,
# as for the audit log: behind a proxy that sets X-Forwarded-For, set PROXY_COUNT.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in the audit log already
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "security.lockout.lockout_response"
if PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# Two-factor sign-in (django-otp, TOTP): optional for every staff member, required for the
# admins of an institution with "require two-factor sign-in" on (security/two_factor.py).
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Krąg")

# Content-Security-Policy (django-csp): scripts only from our own origin, no inline script.
# Inline styles stay allowed: the API docs page (drf-spectacular) carries a <style> block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        **({"report-uri": [env_str("CSP_REPORT_URI")]} if env_str("CSP_REPORT_URI") else {}),
    }
}

# A request body of the API above this is refused with 413 before it is read.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "api.request_id.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own "django" logger prints under DEBUG and passes on to the root as well:
        # each of its lines ("Watching for file changes…") came out twice. Once, through root.
        "django": {"handlers": [], "level": env_str("LOG_LEVEL", "INFO")},
        # WeasyPrint narrates every PDF ("Step 2 - Fetching and parsing CSS"); its warnings stay.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
if CELERY_TASK_ALWAYS_EAGER:
    # Tasks run in this process: no line per finished task, and no warning that the broker
    # (there is none) has no host name. A worker keeps both.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
