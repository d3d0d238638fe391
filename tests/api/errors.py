"""Reading the API's error shape in tests: {"code", "detail", "fields": {path: [{code, message}]}}."""


def field_errors(response) -> dict[str, list[str]]:
    """{field path: [messages]} of an error answer."""
    body = response.json()
    assert set(body) >= {"code", "detail"}, body
    return {path: [e["message"] for e in errors] for path, errors in body.get("fields", {}).items()}


def under(response, prefix: str) -> dict[str, list[str]]:
    """The field errors below `prefix` (e.g. a roster's "marks"), keyed by the rest of the path."""
    return {
        path[len(prefix) + 1 :]: messages
        for path, messages in field_errors(response).items()
        if path.startswith(prefix + ".")
    }
