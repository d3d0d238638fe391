"""The secrets a serving process cannot do without, checked when it starts.

Settings leave a missing SECRET_KEY or FIELD_ENCRYPTION_KEYS empty (without DEBUG nothing
stands in for them), so that commands which need no secret run anyway. The web application
(config/wsgi.py, config/asgi.py) and the Celery worker and beat (config/celery.py) call
`require_secrets()` before they take any work, and so refuse to start without them.
"""

from django.conf import settings


def require_secrets() -> None:
    """Raise ImproperlyConfigured, naming what is missing, unless both secrets are set."""
    from clinics.fields import field_cipher

    settings.SECRET_KEY  # noqa: B018 - Django refuses an empty key on access
    field_cipher()  # refuses an empty FIELD_ENCRYPTION_KEYS
