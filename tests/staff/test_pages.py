import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from attendance.models import FollowUpTask
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def test_the_back_office_asks_for_a_sign_in_first(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))


def test_anna_signs_in_and_lands_on_today(client, anna):
    response = client.post(
        reverse("staff:login"), {"username": "anna", "password": "demo-password"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("staff:today")
    assert "My sessions today" in response.content.decode()


def test_a_wrong_password_is_refused_and_the_username_kept(client, anna):
    response = client.post(reverse("staff:login"), {"username": "anna", "password": "nope"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="anna"' in html and "form-errors" in html


def test_signing_out(client, anna):
    client.force_login(anna)
    response = client.post(reverse("staff:logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_a_password_reset_sends_a_link_that_sets_a_new_password(client, anna):
    client.post(reverse("staff:password_reset"), {"email": anna.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password-reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0]
    client.post(form_url, {"new_password1": "Krag-new-2026!", "new_password2": "Krag-new-2026!"})
    anna.refresh_from_db()
    assert anna.check_password("Krag-new-2026!")


def test_the_language_switcher_remembers_arabic_and_the_page_is_right_to_left(client, anna):
    client.force_login(anna)
    response = client.post(reverse("set_language"), {"language": "ar", "next": "/"})
    assert response.cookies["django_language"]["max-age"] == 365 * 24 * 3600
    html = client.get("/").content.decode()
    assert '<html lang="ar" dir="rtl">' in html


@pytest.fixture
def noon_session(group_a, members_a):
    """A session at noon today in the institution's time zone: "today" whenever the test runs."""
    tz = group_a.institution.tzinfo
    noon = datetime.datetime.combine(timezone.localdate(timezone=tz), datetime.time(12), tzinfo=tz)
    return SessionFactory(group=group_a, starts_at=noon)


def test_today_lists_my_sessions_and_follow_ups(client, anna, noon_session, members_a):
    begun_session = noon_session
    FollowUpTask.objects.create(
        institution=begun_session.institution,
        enrollment=members_a[0],
        trigger_session=begun_session,
        assigned_to=anna,
    )
    client.force_login(anna)
    html = client.get(reverse("staff:today")).content.decode()
    assert reverse("staff:session", args=[begun_session.pk]) in html
    assert "Ala" in html


def test_an_auditor_goes_to_the_reports(client, olga):
    client.force_login(olga)
    response = client.get(reverse("staff:today"))
    assert response.status_code == 302 and response["Location"] == reverse("staff:reports")


def test_the_calendar_shows_a_week_and_a_month_filtered_by_group(
    client, anna, group_a, group_b, karim
):
    starts = timezone.now() + datetime.timedelta(hours=2)
    mine = SessionFactory(group=group_a, starts_at=starts)
    theirs = SessionFactory(group=group_b, starts_at=starts + datetime.timedelta(hours=1))
    client.force_login(anna)
    day = timezone.localtime(mine.starts_at, group_a.institution.tzinfo).date().isoformat()
    for view in ("week", "month"):
        html = client.get(reverse("staff:calendar"), {"view": view, "date": day}).content.decode()
        assert reverse("staff:session", args=[mine.pk]) in html
        assert reverse("staff:session", args=[theirs.pk]) not in html
    html = client.get(reverse("staff:calendar"), {"group": 999999, "date": day}).content.decode()
    assert reverse("staff:session", args=[mine.pk]) not in html


def test_an_auditor_sees_the_calendar_without_links_into_sessions(client, olga, group_a):
    session = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(hours=1))
    day = timezone.localtime(session.starts_at, group_a.institution.tzinfo).date().isoformat()
    client.force_login(olga)
    html = client.get(reverse("staff:calendar"), {"date": day}).content.decode()
    assert group_a.name in html
    assert reverse("staff:session", args=[session.pk]) not in html


def test_reception_staff_who_lead_no_group_see_the_institutions_sessions_today(
    client, marek, noon_session
):
    begun_session = noon_session
    client.force_login(marek)
    html = client.get(reverse("staff:today")).content.decode()
    assert reverse("staff:session", args=[begun_session.pk]) in html
