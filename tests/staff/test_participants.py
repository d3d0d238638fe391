import pytest
from django.conf import settings
from django.urls import reverse

from attendance.models import Consent
from audit.models import AuditEvent
from clinics.models import Participant
from tests.factories import ConsentFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(institution_a):
    return ParticipantFactory(institution=institution_a, alias="Hania")


def test_every_read_of_a_participant_is_audited(client, anna, person):
    client.force_login(anna)
    response = client.get(reverse("staff:participant", args=[person.pk]))
    assert response.status_code == 200
    assert "Hania" in response.content.decode()
    event = AuditEvent.objects.get(action="participant.viewed")
    assert (event.actor, event.object_id) == (anna, str(person.pk))


def test_another_institutions_participant_is_not_found_and_not_audited(client, karim, person):
    client.force_login(karim)
    assert client.get(reverse("staff:participant", args=[person.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="participant.viewed").exists()


def test_an_auditor_cannot_open_a_participant(client, olga, person):
    client.force_login(olga)
    assert client.get(reverse("staff:participant", args=[person.pk])).status_code == 404


def test_staff_register_a_participant_by_alias(client, marek):
    client.force_login(marek)
    response = client.post(reverse("staff:participants"), {"alias": "Iga"})
    person = Participant.objects.get(alias="Iga")
    assert response.status_code == 302
    assert person.code.startswith("P-")


def test_a_consent_is_recorded_with_method_and_version_and_withdrawn_with_history(
    client, marek, person
):
    client.force_login(marek)
    client.post(
        reverse("staff:participant_consent", args=[person.pk]),
        {"purpose": "contact", "method": "electronic", "text_version": "2026-01"},
    )
    consent = Consent.objects.get(participant=person)
    assert (consent.method, consent.text_version) == ("electronic", "2026-01")
    client.post(
        reverse("staff:consent_withdraw", args=[person.pk, consent.pk]),
        {"reason": "Changed phone"},
    )
    consent.refresh_from_db()
    assert consent.status == "withdrawn" and consent.withdrawal_reason == "Changed phone"
    page = client.get(reverse("staff:participant", args=[person.pk])).content.decode()
    assert "Changed phone" in page and "2026-01" in page


def test_a_disclosure_consent_without_recipient_is_refused_next_to_the_field(client, marek, person):
    client.force_login(marek)
    response = client.post(
        reverse("staff:participant_consent", args=[person.pk]),
        {"purpose": "disclosure", "method": "signed_form", "text_version": "v3"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_recipient_error"' in html
    assert 'value="v3"' in html
    assert not Consent.objects.exists()


def test_a_name_needs_the_health_data_consent(client, marek, person):
    client.force_login(marek)
    response = client.post(
        reverse("staff:participant_identity", args=[person.pk]),
        {"alias": "Hania", "legal_name": "Hanna Nowak", "reminder_channel": "none"},
    )
    assert response.status_code == 400
    assert 'id="id_legal_name_error"' in response.content.decode()
    ConsentFactory(participant=person, purpose=Consent.Purpose.HEALTH_DATA)
    client.post(
        reverse("staff:participant_identity", args=[person.pk]),
        {"alias": "Hania", "legal_name": "Hanna Nowak", "reminder_channel": "none"},
    )
    person.refresh_from_db()
    assert person.legal_name == "Hanna Nowak"


def test_withdrawing_the_health_data_consent_in_the_ui_says_what_goes_and_removes_it(
    client, marek, person
):
    ConsentFactory(participant=person, purpose=Consent.Purpose.HEALTH_DATA, recorded_by=marek)
    Participant.objects.filter(pk=person.pk).update(legal_name="Hanna Nowak", birth_year=1985)
    client.force_login(marek)
    page = client.get(reverse("staff:participant", args=[person.pk])).content.decode()
    assert "the name, contacts and year of birth are removed at once" in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pl"
    page = client.get(reverse("staff:participant", args=[person.pk])).content.decode()
    assert "imię i nazwisko, dane kontaktowe i rok urodzenia zostaną od razu usunięte" in page

    consent = Consent.objects.get(participant=person, purpose=Consent.Purpose.HEALTH_DATA)
    client.post(reverse("staff:consent_withdraw", args=[person.pk, consent.pk]), {"reason": ""})

    person.refresh_from_db()
    assert (person.alias, person.legal_name, person.birth_year) == ("Hania", "", None)
    assert AuditEvent.objects.filter(action="participant.identity_cleared").count() == 1
