"""The participants' rights page of the staff UI: admins download the access export and erase;
nobody else finds the page."""

import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from clinics.models import Participant
from tests.factories import ParticipantFactory


@pytest.fixture
def zofia(institution_a):
    return ParticipantFactory(
        institution=institution_a, alias="Zosia", legal_name="Zofia Wiśniewska"
    )


def test_an_admin_downloads_the_access_export(client, ewa, zofia):
    client.force_login(ewa)
    page = client.get(reverse("security:participant_rights", args=[zofia.pk]))
    assert page.status_code == 200
    assert "Access export" in page.content.decode()
    response = client.post(reverse("security:participant_rights_export", args=[zofia.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="{zofia.code}.json"'
    assert json.loads(response.content)["participant"]["legal_name"] == "Zofia Wiśniewska"
    assert AuditEvent.objects.filter(action="participant.export", actor=ewa).count() == 1


def test_erasure_needs_a_reason_and_the_code_typed_again(client, ewa, zofia):
    client.force_login(ewa)
    url = reverse("security:participant_rights", args=[zofia.pk])
    no_reason = client.post(url, {"reason": "", "confirm": zofia.code})
    assert no_reason.status_code == 400
    assert "Give the reason for the erasure" in no_reason.content.decode()
    wrong_code = client.post(url, {"reason": "request of 1 Dec", "confirm": "P-1"})
    assert "code to confirm." in wrong_code.content.decode()
    assert not Participant.objects.get(pk=zofia.pk).is_erased

    done = client.post(url, {"reason": "request of 1 Dec", "confirm": zofia.code})
    assert done["Location"] == reverse("staff:participant", args=[zofia.pk])
    erased = Participant.objects.get(pk=zofia.pk)
    assert (erased.is_erased, erased.alias, erased.legal_name) == (True, zofia.code, "")
    assert "Erased on" in client.get(url).content.decode()


@pytest.mark.parametrize("persona", ["anna", "marek", "olga", "karim"])
def test_nobody_but_an_admin_finds_the_page(client, request, persona, zofia):
    client.force_login(request.getfixturevalue(persona))
    url = reverse("security:participant_rights", args=[zofia.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "x", "confirm": zofia.code}).status_code == 404
    export = reverse("security:participant_rights_export", args=[zofia.pk])
    assert client.post(export).status_code == 404
    assert not Participant.objects.get(pk=zofia.pk).is_erased


def test_only_admins_see_the_links_to_the_audit_log_and_the_rights_page(client, ewa, anna, zofia):
    rights = reverse("security:participant_rights", args=[zofia.pk])
    client.force_login(ewa)
    page = client.get(reverse("staff:participant", args=[zofia.pk])).content.decode()
    assert rights in page and reverse("audit:log") in page
    assert reverse("security:two_factor_setup") in page
    client.force_login(anna)
    page = client.get(reverse("staff:participant", args=[zofia.pk])).content.decode()
    assert rights not in page and reverse("audit:log") not in page
    assert reverse("security:two_factor_setup") in page
