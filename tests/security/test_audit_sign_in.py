"""Every sign-in and failed sign-in leaves exactly one audit row, with who and from where."""

from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent

PASSWORD = "demo-password"


def test_a_staff_sign_in_leaves_one_row_with_actor_institution_and_address(
    client, anna, institution_a
):
    client.post(
        reverse("staff:login"),
        {"username": "anna", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.7",
        HTTP_USER_AGENT="Firefox",
    )
    event = AuditEvent.objects.get(action="auth.signed_in")
    assert (event.actor, event.actor_username, event.institution) == (anna, "anna", institution_a)
    assert (event.ip_address, event.client) == ("192.0.2.7", "Firefox")


def test_a_failed_sign_in_leaves_one_row_naming_the_username_tried(client, anna, institution_a):
    client.post(
        reverse("staff:login"), {"username": "anna", "password": "nope"}, REMOTE_ADDR="192.0.2.8"
    )
    event = AuditEvent.objects.get()
    assert event.action == "auth.sign_in_failed"
    assert event.actor is None
    assert event.institution == institution_a  # so A's admins see attempts on their staff
    assert event.details == {"username": "anna", "locked_out": False}
    assert event.ip_address == "192.0.2.8"


def test_a_failed_sign_in_with_an_unknown_username_belongs_to_no_institution(client, db):
    client.post(reverse("staff:login"), {"username": "ghost", "password": "nope"})
    event = AuditEvent.objects.get()
    assert (event.action, event.institution, event.details["username"]) == (
        "auth.sign_in_failed",
        None,
        "ghost",
    )


def test_a_locked_out_attempt_is_recorded_as_such(client, anna):
    for _ in range(6):
        client.post(reverse("staff:login"), {"username": "anna", "password": "nope"})
    flags = list(
        AuditEvent.objects.filter(action="auth.sign_in_failed")
        .order_by("id")
        .values_list("details__locked_out", flat=True)
    )
    assert flags == [False, False, False, False, True, True]


def test_an_api_sign_in_leaves_one_row_and_a_failed_one_too(anna):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.post(reverse("api-token"), {"username": "anna", "password": "nope"}, format="json")
    api.post(reverse("api-token"), {"username": "anna", "password": PASSWORD}, format="json")
    assert list(AuditEvent.objects.order_by("id").values_list("action", "actor_username")) == [
        ("auth.sign_in_failed", ""),
        ("api.token_issued", "anna"),
    ]
