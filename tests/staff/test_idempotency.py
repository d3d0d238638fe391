"""A mark or a note sent again with the same Idempotency-Key (the phone's offline queue, after
an answer that never arrived) is applied once; the installable app's files are served."""

import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from api.models import IdempotencyKey
from attendance.models import AttendanceRecord
from audit.models import AuditEvent
from sessions.models import NoteAddendum, Session, SessionNote
from sessions.services import note_sign, note_write

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def _post(client, name, session, data, key):
    return client.post(reverse(name, args=[session.pk]), data, HTTP_IDEMPOTENCY_KEY=key, **FETCH)


def test_a_mark_sent_twice_with_one_key_is_recorded_once(client, anna, begun_session, members_a):
    client.force_login(anna)
    key = str(uuid.uuid4())
    data = {"participant": members_a[0].participant_id, "status": "late", "time": "18:05"}
    first = _post(client, "staff:session_mark", begun_session, data, key)
    again = _post(client, "staff:session_mark", begun_session, data, key)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert AttendanceRecord.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="attendance.").count() == 1


def test_a_key_used_for_another_request_is_refused_and_writes_nothing(
    client, anna, begun_session, members_a
):
    client.force_login(anna)
    key = str(uuid.uuid4())
    person = members_a[0].participant_id
    _post(
        client,
        "staff:session_mark",
        begun_session,
        {"participant": person, "status": "present"},
        key,
    )
    other = _post(
        client,
        "staff:session_mark",
        begun_session,
        {"participant": person, "status": "excused"},
        key,
    )
    assert other.status_code == 422
    assert AttendanceRecord.objects.get().status == "present"


def test_a_refused_request_keeps_no_key_so_sending_it_again_tries_again(
    client, anna, begun_session, members_a
):
    client.force_login(anna)
    key = str(uuid.uuid4())
    data = {"participant": members_a[0].participant_id, "status": "late", "time": "nonsense"}
    assert _post(client, "staff:session_mark", begun_session, data, key).status_code == 400
    assert not IdempotencyKey.objects.exists()


def test_a_note_sent_twice_with_one_key_is_written_once(client, anna, begun_session, members_a):
    client.force_login(anna)
    key = str(uuid.uuid4())
    data = {"participant": members_a[0].participant_id, "text": "First words."}
    assert _post(client, "staff:session_note", begun_session, data, key).status_code == 200
    assert _post(client, "staff:session_note", begun_session, data, key).status_code == 200
    note = SessionNote.objects.get()
    assert note.text == "First words."
    assert IdempotencyKey.objects.filter(user=anna, key=key).count() == 1


def test_a_note_signed_meanwhile_is_a_conflict_that_gives_the_text_back(
    client, anna, begun_session
):
    note = note_write(session=begun_session, by=anna, kind=SessionNote.Kind.GROUP, text="Signed.")
    Session.objects.filter(pk=begun_session.pk).update(status="held")  # notes sign once held
    note_sign(note=note, by=anna)
    client.force_login(anna)
    response = _post(client, "staff:session_note", begun_session, {"text": "Typed offline."}, "k-1")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "signed" and body["text"] == "Typed offline." and body["note"] == note.pk
    assert body["addendum_url"] == reverse("staff:session_addendum", args=[begun_session.pk])
    note.refresh_from_db()
    assert note.text == "Signed."


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_addendum_arriving_at_once_add_it_once(anna, begun_session):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them whole)")
    note = note_write(session=begun_session, by=anna, kind=SessionNote.Kind.GROUP, text="Signed.")
    Session.objects.filter(pk=begun_session.pk).update(status="held")  # notes sign once held
    note_sign(note=note, by=anna)
    url = reverse("staff:session_addendum", args=[begun_session.pk])

    def send(barrier, codes, key, text):
        client = Client()
        client.force_login(anna)
        barrier.wait()
        try:
            with translation.override("en"):
                response = client.post(
                    url, {"note": note.pk, "text": text}, HTTP_IDEMPOTENCY_KEY=key, **FETCH
                )
            codes.append(response.status_code)
        finally:
            connection.close()

    for round_ in range(8):
        barrier, codes = threading.Barrier(2), []
        args = (barrier, codes, f"race-{round_}", f"Addendum {round_}")
        threads = [threading.Thread(target=send, args=args) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(codes) == [200, 200], codes
        # (The text is encrypted: counted, not searched.)
        assert NoteAddendum.objects.filter(note=note).count() == round_ + 1


def test_the_service_worker_is_served_at_the_root_so_it_covers_the_whole_ui(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"keep-pages" in response.content
    manifest = client.get("/manifest.webmanifest")
    assert manifest.json()["scope"] == "/" and manifest.json()["start_url"] == "/"
    # The page for a page that was not kept is cached at install, before any sign-in.
    assert client.get(reverse("staff:offline")).status_code == 200


def test_every_page_loads_the_offline_queue_and_names_the_manifest(client, anna):
    client.force_login(anna)
    html = client.get(reverse("staff:today")).content.decode()
    assert 'rel="manifest"' in html and "staff/offline.js" in html
    assert 'data-user="anna"' in html and "data-offline-today" in html
