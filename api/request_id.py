"""Every answer carries an X-Request-ID: the client's own when it sent a plain one, else a new
one; it is on every log line written while the request is answered.

Kept free of Django imports: the logging configuration loads the filter before the apps.
"""

import contextvars
import logging
import re
import uuid

logger = logging.getLogger("api.requests")
REQUEST_ID = contextvars.ContextVar("request_id", default="-")
# A request id a client sends is kept when it is short and plain (it is logged verbatim).
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
API_PREFIX = "/api/"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every log record (`%(request_id)s`)."""

    def filter(self, record):
        record.request_id = REQUEST_ID.get()
        return True


def request_id_middleware(get_response):
    def middleware(request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        reset = REQUEST_ID.set(request_id)
        try:
            response = get_response(request)
            if request.path.startswith(API_PREFIX):
                logger.info("%s %s %s", request.method, request.path, response.status_code)
        finally:
            REQUEST_ID.reset(reset)
        response["X-Request-ID"] = request_id
        return response

    return middleware
