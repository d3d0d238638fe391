"""The API's one parser: JSON, refusing what would exhaust the server rather than crash."""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request of this API nests deeper than a few levels; 100 000 brackets must be a 400.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON is nested too deeply."), code="too_deep") from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(_("The JSON is nested too deeply."), code="too_deep")
        return data


def _depth_exceeds(data, limit: int) -> bool:
    """Walks without recursion, so the check itself cannot overflow the stack."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value)
    return False
