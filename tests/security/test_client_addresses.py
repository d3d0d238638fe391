"""Client addresses come from configuration only, and sign-in is throttled per username and,
loosely, per address (issue 15): a forged X-Forwarded-For buys no fresh allowance, a hospital's
staff behind one NAT address all sign in at 08:00, and a cache that is down lets requests
through (logged) instead of answering 500."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.test import APIClient

from audit.context import client_address
from audit.models import AuditEvent
from clinics.models import StaffMembership

PASSWORD = "demo-password"  # tests/factories.py
PRODUCTION_RATES = {"user_write": "600/min", "login": "10/min", "login_address": "600/min"}


@pytest.fixture
def rates(settings):
    """The production defaults of config/settings.py, on an empty cache."""
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**PRODUCTION_RATES},
    }
    yield settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    cache.clear()


def login(client, username, password=PASSWORD, **headers):
    return client.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        headers=headers,
    )


def test_the_defaults_read_no_forwarded_address():
    from django.conf import settings

    assert settings.PROXY_COUNT == 0
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # None would trust X-Forwarded-For
    assert settings.AXES_IPWARE_META_PRECEDENCE_ORDER == ("REMOTE_ADDR",)


def test_forged_forwarded_addresses_buy_no_fresh_allowance(db, rates):
    rates["login_address"] = "5/min"
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    codes = [
        login(client, f"nobody{n}", "guess", X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(6)
    ]
    assert codes == [400, 400, 400, 400, 400, 429]


def test_guessing_one_username_is_throttled_from_any_number_of_addresses(anna, rates):
    codes = [
        login(APIClient(REMOTE_ADDR=f"198.51.100.{n}"), "anna", "guess").status_code
        for n in range(11)
    ]
    assert codes[:10] == [400] * 10 and codes[10] == 429


def test_a_colleagues_failures_do_not_lock_out_a_correct_sign_in_from_the_same_address(
    anna, marek, rates
):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(10):
        login(client, "anna", "guess")
    response = login(client, "marek")
    assert response.status_code == 200, response.content


def test_two_hundred_staff_behind_one_address_all_sign_in_at_eight(institution_a, rates):
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"nurse{n:03d}", password=make_password(PASSWORD))
        for n in range(200)
    )
    StaffMembership.objects.bulk_create(
        StaffMembership(user=user, institution=institution_a, role=StaffMembership.Role.STAFF)
        for user in users
    )
    client = APIClient(REMOTE_ADDR="192.0.2.10")
    codes = [login(client, user.username).status_code for user in users]
    assert codes.count(200) == 200


def test_with_proxies_declared_the_address_the_outermost_proxy_saw_is_the_clients(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_address(request) == "10.0.0.5"  # no proxy declared: the header is a claim
    settings.PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.9"  # what our one proxy appended
    settings.PROXY_COUNT = 2
    assert client_address(request) == "6.6.6.6"


def test_the_audit_log_ignores_a_forged_forwarded_address(anna, rates):
    login(APIClient(REMOTE_ADDR="192.0.2.10"), "anna", X_FORWARDED_FOR="6.6.6.6")
    event = AuditEvent.objects.filter(actor=anna).latest("id")
    assert event.ip_address == "192.0.2.10"


def test_an_api_write_goes_through_logged_when_the_cache_is_down(
    api, anna, world_a, settings, caplog
):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ForgivingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    body = {"institution": world_a.institution.pk, "alias": "T"}
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        response = api(anna).post("/api/v1/participants/", body, format="json")
    assert response.status_code == 201, response.content
    assert "Cache unavailable" in caplog.text
