"""A client generated from the schema (openapi-python-client) does a mobile day against a live
server without one parsing error: every answer, errors included, is what the schema says."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def krag(tmp_path_factory):
    """The generated package, imported."""
    root = tmp_path_factory.mktemp("client")
    schema = root / "schema.json"
    schema.write_text(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))
    package = root / "krag_client"
    # The generator has a virtualenv of its own (it needs pydantic 2; scripts/install).
    generator = Path(settings.BASE_DIR) / ".venv-tools" / "bin" / "openapi-python-client"
    assert generator.exists(), "run scripts/install: it installs openapi-python-client"
    bin_dir = str(Path(sys.executable).parent)  # the generator formats its output with ruff
    result = subprocess.run(  # noqa: S603  (the project's own tool, our own schema)
        [
            str(generator),
            "generate",
            "--path",
            str(schema),
            "--output-path",
            str(package),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # nothing of the schema was skipped
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("krag_client")
    finally:
        sys.path.remove(str(root))


def _call(krag, module, **kwargs):
    operation = importlib.import_module(f"krag_client.api.{module}")
    return operation.sync_detailed(**kwargs)


def _cursor(next_url):
    return parse_qs(urlparse(next_url).query)["cursor"][0]


def test_a_generated_client_does_a_mobile_day_without_a_parsing_error(
    krag, live_server, anna, world_a
):
    from krag_client import AuthenticatedClient, Client
    from krag_client.models import (
        AttendanceStatusEnum,
        Error,
        LoginRequest,
        MarkRequest,
        PatchedSessionNoteRequest,
        Roster,
        RosterPutRequest,
        SessionNoteKindEnum,
        SessionNoteRequest,
        SyncRemoved,
    )
    from krag_client.types import Unset

    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)
    login = _call(
        krag,
        "auth.auth_token_create",
        client=anonymous,
        body=LoginRequest(username="anna", password="demo-password"),
        idempotency_key="day-login",
    )
    assert login.status_code == 200
    client = AuthenticatedClient(
        base_url=live_server.url,
        token=login.parsed.token,
        prefix="Token",
        raise_on_unexpected_status=True,
    )
    me = _call(krag, "me.me_retrieve", client=client)
    assert me.parsed.username == "anna"
    assert me.headers["X-Request-ID"]

    # The morning: copy the day's lists.
    tokens = {}
    for name in ("sessions", "participants", "attendance", "notes", "groups", "enrollments"):
        start = getattr(krag.models, f"{name.capitalize()}ListSync")("start")
        page = _call(krag, f"{name}.{name}_list", client=client, sync=start, page_size=2)
        while True:
            assert page.status_code == 200, page.content
            rows = page.parsed.results
            assert all(not isinstance(row, SyncRemoved) for row in rows)
            if not page.parsed.next_:
                break
            page = _call(
                krag, f"{name}.{name}_list", client=client, cursor=_cursor(page.parsed.next_)
            )
        assert not isinstance(page.parsed.sync_token, Unset)
        tokens[name] = page.parsed.sync_token

    # The session: the roster, marked with its ETag; a stale ETag is a readable 412.
    session_id = world_a.session.pk
    roster = _call(krag, "sessions.sessions_attendance_retrieve", id=session_id, client=client)
    assert isinstance(roster.parsed, Roster)
    etag = roster.headers["ETag"]
    marks = RosterPutRequest(
        marks=[
            MarkRequest(participant=world_a.first.pk, status=AttendanceStatusEnum("late")),
            MarkRequest(participant=world_a.second.pk, status=AttendanceStatusEnum("present")),
        ]
    )
    put = _call(
        krag,
        "sessions.sessions_attendance_update",
        id=session_id,
        client=client,
        body=marks,
        if_match=etag,
        idempotency_key="day-roster",
    )
    assert put.status_code == 200 and isinstance(put.parsed, Roster)
    stale = _call(
        krag,
        "sessions.sessions_attendance_update",
        id=session_id,
        client=client,
        body=marks,
        if_match=etag,
    )
    assert stale.status_code == 412 and stale.parsed.code == "precondition_failed"

    # The note: a second POST is a 409 naming the note; the edit is a PATCH with If-Match.
    note = SessionNoteRequest(session=session_id, kind=SessionNoteKindEnum("group"), text="Again?")
    exists = _call(krag, "notes.notes_create", client=client, body=note)
    assert exists.status_code == 409 and isinstance(exists.parsed, Error)
    assert exists.parsed.id == world_a.note.pk
    current = _call(krag, "notes.notes_retrieve", id=world_a.note.pk, client=client)
    edited = _call(
        krag,
        "notes.notes_partial_update",
        id=world_a.note.pk,
        client=client,
        body=PatchedSessionNoteRequest(text="We talked, and then some."),
        if_match=current.headers["ETag"],
    )
    assert edited.status_code == 200 and edited.parsed.text == "We talked, and then some."

    # Bad input is an Error with per-field codes.
    bad = _call(krag, "attendance.attendance_list", client=client, page_size=1000)
    assert bad.status_code == 400 and bad.parsed.code == "invalid"
    assert bad.parsed.fields["page_size"][0].code == "invalid"

    # The evening: sync what changed, and the calendar.
    for name, token in tokens.items():
        page = _call(krag, f"{name}.{name}_list", client=client, sync_token=token)
        assert page.status_code == 200, page.content
    changed = _call(
        krag, "attendance.attendance_list", client=client, sync_token=tokens["attendance"]
    )
    assert {row.id for row in changed.parsed.results} >= {world_a.record.pk}
    address = _call(krag, "me.me_calendar_create", client=client, idempotency_key="day-cal")
    assert address.status_code == 201 and address.parsed.url
    assert _call(krag, "me.me_calendar_retrieve", client=client).parsed.url == address.parsed.url
    out = _call(krag, "auth.auth_logout_create", client=client, idempotency_key="day-out")
    assert out.status_code == 204
