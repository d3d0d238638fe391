"""Sign-in hardening: lockout after repeated failures (staff UI, admin, API), password rules,
expiring sessions, two-factor codes for those who need them, and the CSP header."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from audit.models import AuditEvent
from security.services import two_factor_disable
from tests.api.errors import field_errors

PASSWORD = "demo-password"  # tests/factories.py


def sign_in(client, username, password=PASSWORD, ip="10.0.0.1", url=None):
    return client.post(
        url or reverse("staff:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def fail_five_times(client, username, ip="10.0.0.1", url=None):
    for _ in range(4):
        response = sign_in(client, username, "wrong", ip=ip, url=url)
        assert response.status_code == 200  # the form again, with its error
    response = sign_in(client, username, "wrong", ip=ip, url=url)
    assert response.status_code == 429  # the fifth failure locks
    return response


# --- Lockout -----------------------------------------------------------------------------------


def test_five_failed_sign_ins_lock_that_username_from_that_address(client, anna):
    locked = fail_five_times(client, "anna")
    assert "Too many failed sign-ins" in locked.content.decode()
    assert locked["Retry-After"] == "900"
    response = sign_in(client, "anna")  # the right password, too late
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_concerns_only_that_username_and_that_address(client, anna, marek):
    fail_five_times(client, "anna")
    assert sign_in(client, "marek").status_code == 302  # another user, same address
    client.logout()
    assert sign_in(client, "anna", ip="10.0.0.2").status_code == 302  # same user, elsewhere


def test_a_successful_sign_in_clears_earlier_failures(client, anna):
    for _ in range(4):
        sign_in(client, "anna", "wrong")
    assert sign_in(client, "anna").status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "anna", "wrong")
    assert sign_in(client, "anna").status_code == 302


def test_the_admin_sign_in_is_locked_too(client, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD)
    url = reverse("admin:login")
    fail_five_times(client, "root", url=url)
    assert sign_in(client, "root", url=url).status_code == 429


def test_the_api_token_login_is_locked_too(anna):
    api = APIClient(REMOTE_ADDR="10.0.0.9", HTTP_ACCEPT_LANGUAGE="en")
    url = reverse("api-token")
    for _ in range(4):
        response = api.post(url, {"username": "anna", "password": "wrong"}, format="json")
        assert response.status_code == 400
    api.post(url, {"username": "anna", "password": "wrong"}, format="json")
    response = api.post(url, {"username": "anna", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert {"detail": response.json()["detail"]} == {
        "detail": "Too many failed sign-ins with this username. Try again in 15 minutes, or ask "
        "your institution's admin."
    }


# --- Passwords and sessions ------------------------------------------------------------------


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901", "anna@example.org"])
def test_weak_passwords_are_refused(anna, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=anna)


def test_a_staff_session_expires_after_the_configured_age_and_with_the_browser(
    client, anna, settings
):
    sign_in(client, "anna")
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE <= 8 * 3600
    assert client.session.get_expire_at_browser_close()


# --- Two-factor sign-in ----------------------------------------------------------------------


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture
def strict_a(institution_a):
    institution_a.require_two_factor = True
    institution_a.save()
    return institution_a


def test_staff_without_a_device_sign_in_with_a_password_only(client, anna):
    sign_in(client, "anna")
    assert client.get(reverse("staff:today")).status_code == 200


def test_an_admin_of_an_institution_requiring_codes_must_set_one_up_first(client, ewa, strict_a):
    sign_in(client, "ewa")
    response = client.get(reverse("staff:participants"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("security:two_factor_verify"))
    response = client.get(response["Location"])
    assert response["Location"].startswith(reverse("security:two_factor_setup"))
    page = client.get(response["Location"])
    assert b"<svg" in page.content  # the QR code to scan
    device = TOTPDevice.objects.get(user=ewa, confirmed=False)

    response = client.post(reverse("security:two_factor_setup"), {"token": "000000"})
    assert "This code is not valid" in response.content.decode()
    response = client.post(reverse("security:two_factor_setup"), {"token": code(device)})
    assert response.status_code == 302
    assert client.get(reverse("staff:participants")).status_code == 200
    assert AuditEvent.objects.filter(actor=ewa, action="auth.two_factor_enabled").count() == 1


def test_the_requirement_concerns_admins_only(client, anna, strict_a):
    sign_in(client, "anna")
    assert client.get(reverse("staff:today")).status_code == 200


def test_a_wrong_code_is_refused_and_recorded(client, anna):
    confirmed_device(anna)
    sign_in(client, "anna")
    response = client.post(reverse("security:two_factor_verify"), {"token": "123456", "next": "/"})
    assert "This code is not valid" in response.content.decode()
    assert AuditEvent.objects.filter(actor=anna, action="auth.two_factor_failed").count() == 1
    assert client.get(reverse("staff:today")).status_code == 302


def test_a_user_with_a_device_gives_a_code_at_every_sign_in(client, anna):
    device = confirmed_device(anna)
    sign_in(client, "anna")
    response = client.get(reverse("staff:today"))
    assert response["Location"] == f"{reverse('security:two_factor_verify')}?next=%2F"

    response = client.post(
        reverse("security:two_factor_verify"), {"token": code(device), "next": "/"}
    )
    assert response["Location"] == "/"
    assert client.get(reverse("staff:today")).status_code == 200


def test_the_code_page_never_redirects_to_another_site(client, anna):
    device = confirmed_device(anna)
    sign_in(client, "anna")
    response = client.post(
        reverse("security:two_factor_verify"),
        {"token": code(device), "next": "https://evil.example.com/"},
    )
    assert response["Location"] == reverse("staff:today")


def test_the_admin_and_session_api_calls_wait_for_the_code(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD)
    confirmed_device(root)
    sign_in(client, "root", url=reverse("admin:login"))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("security:two_factor_verify"))
    response = client.get("/api/v1/participants/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Two-factor verification required."
    assert response.json()["code"] == "permission_denied"
    response = client.get("/fhir/r4/Patient")
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "login"


def test_signing_out_stays_possible_before_the_code(client, anna):
    confirmed_device(anna)
    sign_in(client, "anna")
    client.post(reverse("staff:logout"))
    assert "_auth_user_id" not in client.session


def test_an_admin_cannot_turn_codes_off_where_the_institution_requires_them(ewa, strict_a):
    confirmed_device(ewa)
    with pytest.raises(ValidationError, match="requires two-factor sign-in for admins"):
        two_factor_disable(user=ewa, by=ewa)
    assert TOTPDevice.objects.filter(user=ewa).exists()


def test_staff_can_turn_their_own_codes_off_and_only_their_own(anna, marek):
    confirmed_device(anna)
    with pytest.raises(ValidationError, match="Only the platform operator"):
        two_factor_disable(user=anna, by=marek)
    two_factor_disable(user=anna, by=anna)
    assert not TOTPDevice.objects.filter(user=anna).exists()
    assert AuditEvent.objects.filter(action="auth.two_factor_disabled").count() == 1


# --- Content-Security-Policy -----------------------------------------------------------------


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, anna):
    sign_in(client, "anna")
    policy = client.get(reverse("staff:today"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


def test_the_api_docs_work_under_the_policy_with_no_inline_script(client, anna):
    import re

    client.force_login(anna)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    assert "script-src 'self'" in page["Content-Security-Policy"]
    html = page.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    init = re.findall(r'<script src="([^"]*script=[^"]*)"', html)[0]
    script = client.get(init.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def token_login(username, **extra):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    return api.post(
        reverse("api-token"), {"username": username, "password": PASSWORD, **extra}, format="json"
    )


def test_a_device_of_a_user_with_codes_gets_a_token_only_with_the_current_code(anna):
    device = confirmed_device(anna)
    refused = token_login("anna")
    assert refused.status_code == 400
    assert field_errors(refused)["otp_token"] == [
        "Give the current code from your authenticator app."
    ]
    granted = token_login("anna", otp_token=code(device))
    assert granted.status_code == 200 and granted.json()["token"]
    assert token_login("anna", otp_token="000000").status_code == 400


def test_an_admin_who_must_use_codes_sets_them_up_before_any_token(ewa, strict_a):
    refused = token_login("ewa", otp_token="123456")
    assert refused.status_code == 400
    assert "set it up in the web app first" in field_errors(refused)["otp_token"][0]


def test_staff_without_codes_get_a_token_with_the_password(marek):
    assert token_login("marek").status_code == 200
