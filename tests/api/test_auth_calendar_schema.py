"""Signing in and out with a token, throttled sign-in, the calendar feed and the schema."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from icalendar import Calendar
from knox.models import AuthToken
from rest_framework.test import APIClient

from api.models import CalendarFeedToken
from api.services import api_tokens_purge_expired
from tests.api.errors import field_errors


def _login(client, username="anna", password="demo-password"):
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_anna_signs_in_uses_the_token_and_signs_out(anna, world_a):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    response = _login(client)
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert response.json()["user"]["username"] == "anna"
    assert response.json()["expiry"]
    stored = AuthToken.objects.get(user=anna)
    assert token not in (stored.digest, stored.token_key)  # only a hash is kept
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["memberships"][0]["role"] == "facilitator"
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert not AuthToken.objects.filter(user=anna).exists()
    assert client.get("/api/v1/me/").status_code == 401


def test_a_wrong_password_is_a_400_with_a_message(anna):
    response = _login(APIClient(HTTP_ACCEPT_LANGUAGE="en"), password="wrong")
    assert response.status_code == 400
    assert "Unable to sign in" in field_errors(response)["non_field_errors"][0]
    assert field_errors(_login(APIClient(HTTP_ACCEPT_LANGUAGE="en"), username=""))["username"]


def test_an_expired_token_is_refused(anna):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    token = _login(client).json()["token"]
    AuthToken.objects.filter(user=anna).update(
        expiry=timezone.now() - datetime.timedelta(seconds=1)
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").status_code == 401


def test_a_token_is_checked_with_one_query_however_many_devices(anna, django_assert_num_queries):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(5):  # other devices, two of them long expired
        AuthToken.objects.create(user=anna)
    AuthToken.objects.filter(user=anna).update(expiry=timezone.now() - datetime.timedelta(days=1))
    token = _login(client).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with django_assert_num_queries(2):  # the token with its user, then the user's memberships
        assert client.get("/api/v1/me/").status_code == 200
    # The expired ones are left to the periodic purge, which deletes exactly them.
    assert AuthToken.objects.filter(user=anna).count() == 6
    assert api_tokens_purge_expired() == 5
    assert client.get("/api/v1/me/").status_code == 200


def test_tokens_expire_after_the_configured_time(anna):
    _login(APIClient(HTTP_ACCEPT_LANGUAGE="en"))
    token = AuthToken.objects.get(user=anna)
    assert token.expiry > timezone.now() + datetime.timedelta(days=13)
    assert token.expiry < timezone.now() + datetime.timedelta(days=15)


def test_sign_in_attempts_are_throttled(anna, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "user_write": "1000/min"},
    }
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    codes = [_login(client, password="guess").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    refused = _login(client)
    assert refused["Retry-After"] and "60" in refused.json()["detail"]
    cache.clear()


def test_writes_are_throttled_per_user(api, anna, marek, world_a, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "100/min", "user_write": "2/min"},
    }
    body = {"institution": world_a.institution.pk, "alias": "T"}
    codes = [
        api(anna).post("/api/v1/participants/", body, format="json").status_code for _ in range(3)
    ]
    assert codes == [201, 201, 429]
    assert api(anna).get("/api/v1/participants/").status_code == 200  # reads are not
    assert api(marek).post("/api/v1/participants/", body, format="json").status_code == 201
    cache.clear()


def test_me_lists_institutions_and_roles(api, anna, institution_a):
    body = api(anna).get("/api/v1/me/").json()
    assert body["username"] == "anna"
    assert body["memberships"] == [
        {
            "institution": {"id": institution_a.pk, "display": institution_a.name},
            "time_zone": "Europe/Warsaw",
            "role": "facilitator",
            "profession": "psychologist",
        }
    ]


def test_the_calendar_feed_lists_my_sessions_in_the_institutions_time_zone(api, anna, world_a):
    client = api(anna)
    created = client.post("/api/v1/me/calendar/")
    assert created.status_code == 201
    url = created.json()["url"]
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert not CalendarFeedToken.objects.filter(digest=secret).exists()  # stored hashed
    feed = APIClient(HTTP_ACCEPT_LANGUAGE="en").get(url)
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(feed.content)
    events = cal.walk("VEVENT")
    assert len(events) == 2
    assert {str(e["SUMMARY"]) for e in events} == {
        f"{world_a.group.name} #1",
        f"{world_a.group.name} #2",
    }
    assert events[0]["DTSTART"].dt.tzinfo is not None
    assert events[0]["DTSTART"].params["TZID"] == "Europe/Warsaw"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Warsaw"]
    body = feed.content.decode()
    assert world_a.first.alias not in body and world_a.first.code not in body


def test_a_revoked_or_unknown_calendar_address_is_404(api, anna, world_a):
    client = api(anna)
    url = client.post("/api/v1/me/calendar/").json()["url"]
    newer = client.post("/api/v1/me/calendar/").json()["url"]
    assert (
        APIClient(HTTP_ACCEPT_LANGUAGE="en").get(url).status_code == 404
    )  # replaced by the newer one
    assert APIClient(HTTP_ACCEPT_LANGUAGE="en").get(newer).status_code == 200
    assert client.delete("/api/v1/me/calendar/").status_code == 204
    assert APIClient(HTTP_ACCEPT_LANGUAGE="en").get(newer).status_code == 404
    assert (
        APIClient(HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/calendar/not-a-secret.ics").status_code
        == 404
    )


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    text = (tmp_path / "s.yaml").read_text()
    for path in ["/api/v1/auth/token/", "/api/v1/sessions/{id}/attendance/", "/api/v1/me/"]:
        assert f"{path}:" in text
    assert "updated_since" in text and "tokenAuth" in text and "Idempotency-Key" in text


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/"])
def test_the_schema_and_docs_are_served_without_a_cdn(api, anna, path):
    response = api(anna).get(path)
    assert response.status_code == 200
    if path.endswith("docs/"):
        html = response.content.decode()
        assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html
