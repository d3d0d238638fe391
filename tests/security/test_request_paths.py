"""What a request may not do (issue 15): the password reset tells nobody which addresses are
registered and sends its mail from a worker; the files under MEDIA_ROOT are never served, not
even with DEBUG; a stalled mail server cannot hold a send forever."""

import importlib

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.urls import clear_url_caches, reverse

from security import tasks as security_tasks


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(
        security_tasks.send_password_reset,
        "apply_async",
        lambda args, **options: calls.append(args),
    )
    return calls


def test_a_reset_for_a_known_and_an_unknown_address_does_the_same_work_in_the_request(
    client, anna, queued, django_assert_num_queries
):
    url = reverse("staff:password_reset")
    client.get(url)  # the session and the CSRF cookie, so both posts below start alike
    with django_assert_num_queries(0) as known:
        known_answer = client.post(url, {"email": anna.email})
    with django_assert_num_queries(0) as unknown:
        unknown_answer = client.post(url, {"email": "nobody@example.org"})

    assert known_answer.status_code == unknown_answer.status_code == 302
    assert known_answer["Location"] == unknown_answer["Location"]
    assert len(known.captured_queries) == len(unknown.captured_queries) == 0
    assert mail.outbox == []  # nothing sent inside the request
    assert [args[0] for args in queued] == [anna.email, "nobody@example.org"]


def test_the_worker_sends_the_link_to_a_known_address_only(anna, db):
    security_tasks.send_password_reset("nobody@example.org", "krag.example.org", True, "en")
    assert mail.outbox == []
    security_tasks.send_password_reset(anna.email, "krag.example.org", True, "en")
    assert len(mail.outbox) == 1
    assert "https://krag.example.org/password-reset/" in mail.outbox[0].body


def test_report_files_are_not_served_under_media_even_with_debug(client, settings, tmp_path):
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "certificate-1.pdf").write_bytes(b"%PDF-1.7 secret")
    import config.urls

    try:
        importlib.reload(config.urls)
        clear_url_caches()
        response = client.get(f"/{django_settings.MEDIA_URL}reports/certificate-1.pdf")
        assert response.status_code in (302, 404)
        assert b"secret" not in b"".join(getattr(response, "streaming_content", [response.content]))
    finally:
        settings.DEBUG = False
        importlib.reload(config.urls)
        clear_url_caches()


def test_a_stalled_mail_server_cannot_hold_a_send_forever():
    from django.core.mail import get_connection

    assert django_settings.EMAIL_TIMEOUT and django_settings.EMAIL_TIMEOUT <= 30
    connection = get_connection("django.core.mail.backends.smtp.EmailBackend")
    assert connection.timeout == django_settings.EMAIL_TIMEOUT
