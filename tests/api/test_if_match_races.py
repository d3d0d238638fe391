"""Two writes carrying one ETag at once: exactly one succeeds, the other gets 412 — every time.

The ETag is compared inside the service's transaction, on the row it locked (`precondition=`),
so the second write reads the first one's result before it compares (PostgreSQL: real
concurrent transactions).
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 20


def _race(user, requests):
    """Send `requests` (callables taking a client) at once; their status codes, sorted."""
    barrier = threading.Barrier(len(requests))
    codes = []

    def send(request):
        client = APIClient()
        client.force_authenticate(user)
        barrier.wait()
        try:
            codes.append(request(client).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(codes)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions (PostgreSQL)")


def test_two_patches_of_one_participant_with_one_etag_one_wins_one_gets_412(api, anna, world_a):
    url = f"/api/v1/participants/{world_a.first.pk}/"
    for round_ in range(ROUNDS):
        etag = api(anna).get(url)["ETag"]

        def patch(alias, etag=etag):
            return lambda client: client.patch(
                url, {"alias": alias}, format="json", HTTP_IF_MATCH=etag
            )

        assert _race(anna, [patch(f"A{round_}"), patch(f"B{round_}")]) == [200, 412]


def test_two_roster_puts_with_one_etag_one_wins_one_gets_412(api, anna, world_a):
    url = f"/api/v1/sessions/{world_a.session.pk}/attendance/"
    statuses = ["present", "late", "excused"]
    for _ in range(ROUNDS):
        roster = api(anna).get(url)
        etag = roster["ETag"]
        current = {m["participant"]["id"]: m["status"] for m in roster.json()["marks"]}
        # Both writes change the roster, whichever lands first.
        first, second = [s for s in statuses if s != current[world_a.first.pk]]

        def put(status, etag=etag):
            marks = [{"participant": world_a.first.pk, "status": status}]
            return lambda client: client.put(
                url, {"marks": marks}, format="json", HTTP_IF_MATCH=etag
            )

        assert _race(anna, [put(first), put(second)]) == [200, 412]
