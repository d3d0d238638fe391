"""The operator's health check: is this process ready to serve and to hand work to workers?"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 3  # seconds: a load balancer's probe must not hang on a dead broker


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_broker() -> str:
    """ "eager" when no broker is configured: tasks run in process and none is required."""
    from config.celery import app

    if app.conf.task_always_eager or not settings.CELERY_BROKER_URL:
        return "eager"
    options = {
        **app.conf.broker_transport_options,
        "socket_connect_timeout": BROKER_TIMEOUT,
        "socket_timeout": BROKER_TIMEOUT,
    }
    with app.connection_for_write(transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    return "ok"


CHECKS = {"database": check_database, "broker": check_broker}


@never_cache
@require_GET
def health(request):
    """200 when the database and the broker answer; 503 naming the part that failed.

    Errors are logged, not shown: the endpoint is public and an error can name hosts.
    """
    report = {}
    failed = []
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception:
            logger.exception("Health check of the %s failed", name)
            report[name] = "unavailable"
            failed.append(name)
    report["status"] = "unavailable" if failed else "ok"
    if failed:
        report["failed"] = failed
    return JsonResponse(report, status=503 if failed else 200)
