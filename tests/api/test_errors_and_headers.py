"""Errors a program can read, headers that say what they mean, writes a retry cannot repeat."""

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from api.views.clinics import InstitutionViewSet
from sessions.models import SessionNote


def _is_error(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["code"], str) and isinstance(body["detail"], str), body
    if code:
        assert body["code"] == code, body
    return body


def test_an_unknown_api_path_answers_json(api, anna):
    _is_error(api(anna).get("/api/v1/no-such-thing/"), 404, "not_found")


def test_a_non_numeric_id_is_a_json_404(api, anna, world_a):
    _is_error(api(anna).get("/api/v1/sessions/abc/"), 404, "not_found")


def test_a_method_the_resource_lacks_is_a_json_405(api, anna, world_a):
    _is_error(api(anna).delete(f"/api/v1/sessions/{world_a.session.pk}/"), 405)


def test_a_body_over_the_limit_is_a_json_413(api, anna, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = {"alias": "x" * 2000}
    _is_error(api(anna).post("/api/v1/participants/", body, format="json"), 413)


def test_a_body_that_is_not_json_is_a_json_415(api, anna):
    response = api(anna).post("/api/v1/participants/", "alias=x", content_type="text/plain")
    _is_error(response, 415, "unsupported_media_type")


def test_malformed_json_is_a_json_400(api, anna):
    response = api(anna).post("/api/v1/participants/", "{", content_type="application/json")
    _is_error(response, 400, "parse_error")


def test_json_nested_a_hundred_thousand_deep_is_a_400_not_a_crash(api, anna):
    body = "[" * 100_000 + "]" * 100_000
    response = api(anna).post("/api/v1/participants/", body, content_type="application/json")
    _is_error(response, 400)


def test_a_server_error_is_json_with_the_request_id(api, anna, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(InstitutionViewSet, "list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(anna)
    response = client.get("/api/v1/institutions/", HTTP_X_REQUEST_ID="trace-42")
    body = _is_error(response, 500, "server_error")
    assert body["request_id"] == "trace-42" == response["X-Request-ID"]


def test_every_answer_carries_a_request_id_the_clients_own_when_it_sent_one(api, anna):
    assert api(anna).get("/api/v1/me/", HTTP_X_REQUEST_ID="abc-1")["X-Request-ID"] == "abc-1"
    assert len(api(anna).get("/api/v1/me/")["X-Request-ID"]) == 32
    assert api(None).get("/api/v1/me/")["X-Request-ID"]


def test_a_field_error_names_the_field_with_a_code_and_a_message(api, anna):
    body = _is_error(api(anna).get("/api/v1/attendance/", {"page_size": "many"}), 400, "invalid")
    [error] = body["fields"]["page_size"]
    assert error["code"] == "invalid" and "200" in error["message"]


@pytest.mark.parametrize("path", ["participants", "notes", "attendance"])
def test_personal_data_is_not_kept_by_caches(api, anna, world_a, path):
    assert api(anna).get(f"/api/v1/{path}/")["Cache-Control"] == "no-store"


def test_a_roster_is_not_kept_by_caches(api, anna, world_a):
    response = api(anna).get(f"/api/v1/sessions/{world_a.session.pk}/attendance/")
    assert response["Cache-Control"] == "no-store"


def test_a_created_object_answers_201_with_its_location(api, anna, institution_a):
    response = api(anna).post(
        "/api/v1/participants/", {"institution": institution_a.pk, "alias": "New"}, format="json"
    )
    assert response.status_code == 201
    assert response["Location"].endswith(f"/api/v1/participants/{response.json()['id']}/")


def test_a_weak_if_match_never_matches(api, anna, world_a):
    url = f"/api/v1/participants/{world_a.first.pk}/"
    etag = api(anna).get(url)["ETag"]
    response = api(anna).patch(url, {"alias": "Weak"}, format="json", HTTP_IF_MATCH=f"W/{etag}")
    _is_error(response, 412, "precondition_failed")
    world_a.first.refresh_from_db()
    assert world_a.first.alias != "Weak"


def test_a_weak_if_none_match_still_saves_a_download(api, anna, world_a):
    url = f"/api/v1/participants/{world_a.first.pk}/"
    etag = api(anna).get(url)["ETag"]
    assert api(anna).get(url, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304


def test_posting_a_note_that_exists_is_409_with_its_id_and_changes_nothing(api, anna, world_a):
    response = api(anna).post(
        "/api/v1/notes/",
        {"session": world_a.session.pk, "kind": "group", "text": "Overwritten?"},
        format="json",
    )
    body = _is_error(response, 409, "note_exists")
    assert body["id"] == world_a.note.pk
    assert SessionNote.objects.get(pk=world_a.note.pk).text == "We talked."


def test_a_retried_sign_in_with_one_key_gets_the_same_token(anna):
    client = APIClient()
    body = {"username": "anna", "password": "demo-password"}
    first = client.post("/api/v1/auth/token/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post("/api/v1/auth/token/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 200
    assert again.json()["token"] == first.json()["token"]
    assert again["Idempotent-Replayed"] == "true"
    assert AuthToken.objects.filter(user=anna).count() == 1


def test_a_retried_sign_out_is_204_again(anna):
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "anna", "password": "demo-password"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/auth/logout/", HTTP_IDEMPOTENCY_KEY="out").status_code == 204
    assert client.post("/api/v1/auth/logout/", HTTP_IDEMPOTENCY_KEY="out").status_code == 204
    assert client.post("/api/v1/auth/logout/").status_code == 401
    assert not AuthToken.objects.filter(user=anna).exists()


def test_a_retried_calendar_rotation_keeps_the_address_it_answered(api, anna, world_a):
    client = api(anna)
    first = client.post("/api/v1/me/calendar/", HTTP_IDEMPOTENCY_KEY="cal")
    again = client.post("/api/v1/me/calendar/", HTTP_IDEMPOTENCY_KEY="cal")
    assert first.status_code == again.status_code == 201
    url = first.json()["url"]
    assert again.json()["url"] == url
    assert client.get("/api/v1/me/calendar/").json()["url"] == url
    assert APIClient().get(url).status_code == 200  # the address it returned still works


def test_reading_the_calendar_address_does_not_replace_it(api, anna, world_a):
    client = api(anna)
    assert client.get("/api/v1/me/calendar/").status_code == 404
    url = client.post("/api/v1/me/calendar/").json()["url"]
    assert client.get("/api/v1/me/calendar/").json()["url"] == url
    assert APIClient().get(url).status_code == 200


def test_a_retried_delete_with_one_key_is_answered_once(api, anna, world_a):
    client = api(anna)
    client.post("/api/v1/me/calendar/")
    first = client.delete("/api/v1/me/calendar/", HTTP_IDEMPOTENCY_KEY="del")
    again = client.delete("/api/v1/me/calendar/", HTTP_IDEMPOTENCY_KEY="del")
    assert first.status_code == again.status_code == 204
    assert again["Idempotent-Replayed"] == "true"
