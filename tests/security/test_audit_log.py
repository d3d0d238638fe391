"""Institution admins search and export their institution's audit log (UI and API); nobody
else reads it, and nothing changes or deletes it."""

import csv
import datetime
import io

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import ParticipantFactory


@pytest.fixture
def events(ewa, anna, karim, institution_a, institution_b):
    """anna read P-1 of A twice (once last month), karim read a participant of B."""
    p_a = ParticipantFactory(institution=institution_a)
    p_b = ParticipantFactory(institution=institution_b)
    # Written 35 days ago (the log refuses updates, in the database too: no moving it back).
    with time_machine.travel(timezone.now() - datetime.timedelta(days=35), tick=False):
        old = audit_record(actor=anna, action="participant.viewed", obj=p_a)
    recent = audit_record(actor=anna, action="participant.viewed", obj=p_a)
    other = audit_record(actor=karim, action="participant.viewed", obj=p_b)
    return {"p_a": p_a, "p_b": p_b, "old": old, "recent": recent, "other": other}


def sign_in(client, user):
    client.force_login(user)
    return client


# --- Staff UI ----------------------------------------------------------------------------------


def test_an_admin_sees_her_institutions_log_and_not_anothers(client, ewa, events):
    page = sign_in(client, ewa).get(reverse("audit:log"))
    assert page.status_code == 200
    ids = [e.pk for e in page.context["page"].object_list]
    assert events["recent"].pk in ids and events["old"].pk in ids
    assert events["other"].pk not in ids


def test_who_saw_this_persons_record_last_month(client, ewa, events):
    today = timezone.localdate()
    month_ago = today - datetime.timedelta(days=40)
    page = sign_in(client, ewa).get(
        reverse("audit:log"),
        {
            "participant": events["p_a"].code,
            "action": "participant.viewed",
            "since": month_ago.isoformat(),
            "until": (today - datetime.timedelta(days=30)).isoformat(),
        },
    )
    assert [e.pk for e in page.context["page"].object_list] == [events["old"].pk]
    assert "anna" in page.content.decode()


def test_the_same_participant_code_in_another_institution_is_not_matched(client, ewa, events):
    assert events["p_a"].code == events["p_b"].code  # numbering is per institution
    page = sign_in(client, ewa).get(reverse("audit:log"), {"participant": events["p_b"].code})
    ids = [e.pk for e in page.context["page"].object_list]
    assert events["other"].pk not in ids


@pytest.mark.parametrize("persona", ["anna", "marek", "olga", "karim"])
def test_nobody_but_an_admin_reads_the_log(client, persona, request, events):
    user = request.getfixturevalue(persona)
    assert sign_in(client, user).get(reverse("audit:log")).status_code == 404
    assert client.get(reverse("audit:export")).status_code == 404


def test_the_export_is_a_csv_of_the_filtered_log_and_is_itself_audited(client, ewa, events):
    response = sign_in(client, ewa).get(reverse("audit:export"), {"actor": "anna"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["id"] for row in rows} == {str(events["old"].pk), str(events["recent"].pk)}
    assert rows[0]["object_type"] == "clinics.participant"
    exported = AuditEvent.objects.get(action="audit.exported")
    assert (exported.actor, exported.details) == (ewa, {"filters": {"actor": "anna"}})


def test_a_spreadsheet_formula_in_the_log_is_exported_as_text(client, ewa, institution_a):
    AuditEvent.objects.create(
        action="auth.sign_in_failed", institution=institution_a, client="=HYPERLINK(1)"
    )
    response = sign_in(client, ewa).get(reverse("audit:export"))
    content = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in content


def test_a_bad_date_is_a_form_error_not_everything(client, ewa, events):
    page = sign_in(client, ewa).get(reverse("audit:log"), {"since": "yesterday"})
    assert page.status_code == 200
    assert list(page.context["page"].object_list) == []
    assert page.context["filter"].form.errors["since"]


# --- API ---------------------------------------------------------------------------------------


def api_as(user):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(user)
    return api


def test_the_api_lists_an_admins_institution_log_only(ewa, events):
    response = api_as(ewa).get("/api/v1/audit-events/")
    ids = [row["id"] for row in response.json()["results"]]
    assert events["recent"].pk in ids and events["other"].pk not in ids
    row = next(r for r in response.json()["results"] if r["id"] == events["recent"].pk)
    assert row["actor_username"] == "anna"
    assert row["institution"]["id"] == events["p_a"].institution_id


def test_the_api_answers_another_institutions_event_with_404(ewa, events):
    assert api_as(ewa).get(f"/api/v1/audit-events/{events['other'].pk}/").status_code == 404


@pytest.mark.parametrize("persona", ["anna", "olga", "karim"])
def test_the_api_shows_non_admins_an_empty_log(persona, request, events):
    user = request.getfixturevalue(persona)
    assert api_as(user).get("/api/v1/audit-events/").json()["results"] == []
    assert api_as(user).get(f"/api/v1/audit-events/{events['recent'].pk}/").status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_offers_no_way_to_change_the_log(ewa, events, method):
    url = f"/api/v1/audit-events/{events['recent'].pk}/"
    if method == "post":
        url = "/api/v1/audit-events/"
    response = getattr(api_as(ewa), method)(url, {"action": "nothing"}, format="json")
    assert response.status_code == 405
    assert AuditEvent.objects.get(pk=events["recent"].pk).action == "participant.viewed"


def test_the_api_filters_by_participant_and_exports_csv(ewa, events):
    api = api_as(ewa)
    response = api.get("/api/v1/audit-events/", {"participant": events["p_a"].code})
    assert {r["id"] for r in response.json()["results"]} == {
        events["old"].pk,
        events["recent"].pk,
    }
    response = api.get("/api/v1/audit-events/export/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode()
    assert content.startswith("id,created_at,institution,actor,action")
    assert str(events["other"].pk) not in [line.split(",")[0] for line in content.splitlines()]


def test_the_log_refuses_changes_even_from_code(events):
    event = events["recent"]
    event.action = "tampered"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_not_even_the_admin_can_add_change_or_delete_an_event(client, django_user_model, events):
    root = django_user_model.objects.create_superuser("root", "root@example.org", "x")
    client.force_login(root)
    event = events["recent"]
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert (
        client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "tampered"})
    response = client.post(
        "/admin/audit/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302, 403)
    assert AuditEvent.objects.get(pk=event.pk).action == "participant.viewed"


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_change_or_delete_an_audit_row(events):
    from django.db import DatabaseError, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's (a migration installs it there only)")
    event = events["recent"]
    for sql in (
        "UPDATE audit_auditevent SET action = 'tampered' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "participant.viewed"
