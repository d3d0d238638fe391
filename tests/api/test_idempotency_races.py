"""Two copies of the same request at once (a phone retrying over a flaky link) write once."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.models import IdempotencyKey
from clinics.models import Participant
from tests.api.errors import field_errors


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_register_one_participant(anna, institution_a):
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory test database's shared cache has no busy timeout")
    body = {"institution": institution_a.pk, "alias": "Twice sent"}
    barrier = threading.Barrier(2)
    answers = []

    def send():
        client = APIClient()
        client.force_authenticate(anna)
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/participants/", body, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
            answers.append((response.status_code, response.json().get("id")))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Participant.objects.filter(alias="Twice sent").count() == 1
    created = Participant.objects.get(alias="Twice sent")
    # Each copy gets the first answer, or (if it overtook the first mid-flight) a 409 to retry.
    assert sorted(answers) in (
        [(201, created.pk), (201, created.pk)],
        sorted([(201, created.pk), (409, None)]),
    )


def test_a_request_whose_first_copy_is_still_running_gets_409(api, anna, institution_a):
    IdempotencyKey.objects.create(user=anna, key="busy", fingerprint="x", status_code=None)
    response = api(anna).post(
        "/api/v1/participants/",
        {"institution": institution_a.pk, "alias": "Busy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="busy",
    )
    assert response.status_code == 409
    assert "in progress" in response.json()["detail"]
    assert not Participant.objects.filter(alias="Busy").exists()


def test_an_overlong_idempotency_key_is_refused(api, anna, institution_a):
    response = api(anna).post(
        "/api/v1/participants/",
        {"institution": institution_a.pk, "alias": "Long"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k" * 256,
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in field_errors(response)
