import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.secrets import require_secrets  # noqa: E402 - needs the settings loaded above

require_secrets()  # no serving without SECRET_KEY and FIELD_ENCRYPTION_KEYS
