"""The pickers in a real browser, on an institution with 2,000 participants: the page carries
none of them, typing finds one, and choosing them adds them to the group."""

import pytest
from django.conf import settings

from attendance.models import Enrollment
from clinics.models import Participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, username):
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-password")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def two_thousand(institution_a):
    Participant.objects.bulk_create(
        Participant(
            institution=institution_a,
            number=i,
            code=Participant.code_for(i),
            alias=f"Person {i:04d}",
        )
        for i in range(1, 2001)
    )
    institution_a.last_participant_number = 2000
    institution_a.save(update_fields=["last_participant_number"])


def test_anna_finds_one_of_two_thousand_by_typing_and_adds_them_to_the_group(
    phone, live_server, anna, group_a, two_thousand
):
    _sign_in(phone, live_server, "anna")
    phone.goto(f"{live_server.url}/groups/{group_a.pk}/")
    assert phone.locator("option").count() <= 100
    phone.click("text=Add a member")
    control = phone.locator("#id_participant-ts-control")
    phone.locator(".ts-control", has=control).click()
    # The first page arrives on focus; scrolling would fetch the next one.
    phone.locator(".ts-dropdown .option").first.wait_for()
    assert phone.locator(".ts-dropdown .option").count() <= 40
    control.fill("1234")
    phone.locator(".ts-dropdown .option", has_text="Person 1234").wait_for()
    phone.locator(".ts-dropdown .option", has_text="Person 1234").click()
    # Admitting needs their consent first: keep them as referred.
    phone.select_option("#id_then", "refer")
    phone.click("form[action$='/members/'] button[type=submit]")
    phone.locator(".messages").wait_for()
    enrollment = Enrollment.objects.get(group=group_a)
    assert enrollment.participant.alias == "Person 1234"
    assert enrollment.status == Enrollment.Status.REFERRED
