import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()

from config.secrets import require_secrets  # noqa: E402 - needs the settings loaded above

require_secrets()  # no serving without SECRET_KEY and FIELD_ENCRYPTION_KEYS
