"""The Django admin with the demo data: everything loads for the superuser, ewa (admin at A) sees
and picks only A's objects, writes go through the services, the audit log cannot be changed."""

import datetime
import io

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from attendance.models import Consent, Enrollment
from attendance.services import consent_withdraw
from audit.models import AuditEvent
from clinics.admin import TenantAdmin
from clinics.management.commands.seed_demo import NAME_A, NAME_B
from clinics.models import Institution, Participant, Room
from sessions.models import GroupFacilitator, Session, SessionNote, SupportGroup

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
TENANT_ADMINS = [(m, a) for m, a in REGISTRY if isinstance(a, TenantAdmin)]
# Session notes are read by the facilitators of their group only — the platform operator included.
HIDDEN_FROM_SUPERUSER = {"group_sessions.sessionnote"}
INLINE_MANAGEMENT = {
    f"{prefix}-{key}": 0
    for prefix in ("consents", "enrollments")
    for key in ("TOTAL_FORMS", "INITIAL_FORMS")
}


def ids(items):
    return [model._meta.label_lower for model, _admin in items]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo, seeded once for the module inside a transaction that is rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def users(demo, db):
    return {u.username: u for u in get_user_model().objects.all()}


@pytest.fixture
def a(users):
    return Institution.objects.get(name=NAME_A)


@pytest.fixture
def b(users):
    return Institution.objects.get(name=NAME_B)


@pytest.fixture
def client(client):
    # The refusals are asserted in the services' own words, in English.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def as_admin(client, users):
    client.force_login(users["admin"])
    return client


@pytest.fixture
def as_ewa(client, users):
    client.force_login(users["ewa"])
    return client


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def rows_of(model_admin, institution):
    return model_admin.model._default_manager.filter(
        **{model_admin.institution_path: institution.pk}
    )


def visible_to(user, model_admin):
    request = RequestFactory().get("/admin/")
    request.user = user
    return model_admin.get_queryset(request)


# --- everything loads ------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=ids(REGISTRY))
def test_every_changelist_loads_for_the_superuser(as_admin, model, model_admin):
    assert as_admin.get(url(model, "changelist")).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=ids(REGISTRY))
def test_every_add_form_loads_for_the_superuser_or_is_refused_when_rows_are_system_made(
    as_admin, users, model, model_admin
):
    request = RequestFactory().get("/admin/")
    request.user = users["admin"]
    expected = 200 if model_admin.has_add_permission(request) else 403
    assert as_admin.get(url(model, "add")).status_code == expected


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=ids(REGISTRY))
def test_every_change_form_loads_for_the_superuser(as_admin, users, model, model_admin):
    if not model._default_manager.exists():
        pytest.skip(f"the demo makes no {model._meta.verbose_name}")
    obj = visible_to(users["admin"], model_admin).first()
    if model._meta.label_lower in HIDDEN_FROM_SUPERUSER:
        assert obj is None
        return
    assert as_admin.get(url(model, "change", obj.pk)).status_code == 200


def test_session_notes_are_shown_to_the_facilitator_of_the_group_only(users):
    notes_admin = admin.site._registry[SessionNote]
    assert SessionNote.objects.exists()
    assert not visible_to(users["admin"], notes_admin).exists()
    assert not visible_to(users["ewa"], notes_admin).exists()
    anna = users["anna"]
    assert visible_to(anna, notes_admin).count() == SessionNote.objects.count()


# --- ewa sees her institution only -----------------------------------------------------------


@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_ewa_sees_her_institutions_rows_and_none_of_b(as_ewa, a, b, model, model_admin):
    response = as_ewa.get(url(model, "changelist"))
    assert response.status_code == 200
    shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
    assert not shown & set(rows_of(model_admin, b).values_list("pk", flat=True))
    if model is not SessionNote:
        assert shown == set(rows_of(model_admin, a).values_list("pk", flat=True))


@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_b_s_change_page_is_never_shown_to_ewa(as_ewa, b, model, model_admin):
    obj = rows_of(model_admin, b).first()
    if obj is None:
        pytest.skip(f"the demo has no {model._meta.verbose_name} at B")
    response = as_ewa.get(url(model, "change", obj.pk))
    assert response.status_code in (302, 404)
    assert str(obj) not in response.content.decode()


def test_ewa_is_offered_only_her_institutions_rooms(as_ewa, a):
    response = as_ewa.get(url(SupportGroup, "add"))
    choices = response.context["adminform"].form.fields["default_room"].queryset
    assert set(choices) == set(Room.objects.filter(site__institution=a))
    assert set(response.context["adminform"].form.fields["institution"].queryset) == {a}


def test_ewa_cannot_schedule_a_session_in_b_s_room(as_ewa, a, b):
    group = SupportGroup.objects.filter(institution=a).first()
    room_b = Room.objects.filter(site__institution=b).first()
    starts = timezone.localtime() + datetime.timedelta(days=200)
    before = Session.objects.count()
    response = as_ewa.post(
        url(Session, "add"),
        {
            "group": group.pk,
            "starts_at_0": starts.date().isoformat(),
            "starts_at_1": "08:00",
            "ends_at_0": starts.date().isoformat(),
            "ends_at_1": "09:00",
            "room": room_b.pk,
        },
    )
    assert response.status_code == 200
    assert "room" in response.context["adminform"].form.errors
    assert Session.objects.count() == before


def test_a_facilitator_is_not_offered_the_admin(client, users):
    anna = users["anna"]
    anna.is_staff = True
    anna.save()
    client.force_login(anna)
    assert client.get(url(Participant, "changelist")).status_code == 403
    assert client.get(url(AuditEvent, "changelist")).status_code == 403


# --- writes go through the services ------------------------------------------------------------


def test_a_double_booked_room_is_a_form_error_and_nothing_is_saved(as_ewa, a):
    session = Session.objects.filter(institution=a, status="scheduled", room__isnull=False).first()
    other_group = SupportGroup.objects.filter(institution=a).exclude(pk=session.group_id).first()
    local = timezone.localtime(session.starts_at)
    before = Session.objects.count()
    response = as_ewa.post(
        url(Session, "add"),
        {
            "group": other_group.pk,
            "starts_at_0": local.date().isoformat(),
            "starts_at_1": local.strftime("%H:%M"),
            "ends_at_0": local.date().isoformat(),
            "ends_at_1": (local + datetime.timedelta(hours=1)).strftime("%H:%M"),
            "room": session.room_id,
        },
    )
    assert response.status_code == 200
    assert "The room is already booked at that time" in str(
        response.context["adminform"].form.errors["room"]
    )
    assert Session.objects.count() == before


def test_a_semi_open_group_without_entry_points_is_refused_with_the_service_s_message(as_ewa, a):
    response = as_ewa.post(
        url(SupportGroup, "add"),
        {
            "institution": a.pk,
            "name": "Nowa grupa",
            "category": "depression",
            "membership_mode": "semi_open",
            "entry_points": "[]",
            "capacity": 10,
            "min_size": 3,
            "language": "pl",
            "status": "planned",
            "starts_on": "2027-01-05",
            "facilitator_roles-TOTAL_FORMS": 0,
            "facilitator_roles-INITIAL_FORMS": 0,
            "sessions-TOTAL_FORMS": 0,
            "sessions-INITIAL_FORMS": 0,
            "enrollments-TOTAL_FORMS": 0,
            "enrollments-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "A semi-open group needs its entry points" in str(
        response.context["adminform"].form.errors
    )
    assert not SupportGroup.objects.filter(name="Nowa grupa").exists()


def test_ewa_creates_a_group_through_the_admin_and_it_is_audited(as_ewa, a):
    response = as_ewa.post(
        url(SupportGroup, "add"),
        {
            "institution": a.pk,
            "name": "Grupa dla rodzin",
            "category": "other",
            "membership_mode": "closed",
            "entry_points": "[]",
            "capacity": 10,
            "min_size": 3,
            "language": "pl",
            "status": "planned",
            "starts_on": "2027-01-05",
            "facilitator_roles-TOTAL_FORMS": 0,
            "facilitator_roles-INITIAL_FORMS": 0,
            "sessions-TOTAL_FORMS": 0,
            "sessions-INITIAL_FORMS": 0,
            "enrollments-TOTAL_FORMS": 0,
            "enrollments-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    group = SupportGroup.objects.get(name="Grupa dla rodzin")
    assert AuditEvent.objects.filter(action="group.created", object_id=str(group.pk)).count() == 1


def test_cancelling_sessions_asks_for_a_reason_then_cancels_through_the_service(as_ewa, a):
    session = Session.objects.filter(
        institution=a, status="scheduled", starts_at__gt=timezone.now()
    ).first()
    data = {"action": "cancel_sessions", "_selected_action": [session.pk]}
    asked = as_ewa.post(url(Session, "changelist"), data)
    assert asked.status_code == 200
    assert "Why are these sessions cancelled?" in asked.content.decode()
    session.refresh_from_db()
    assert session.status == "scheduled"

    done = as_ewa.post(url(Session, "changelist"), {**data, "apply": "1", "reason": "Awaria"})
    assert done.status_code == 302
    session.refresh_from_db()
    assert (session.status, session.cancellation_reason) == ("cancelled", "Awaria")


def test_withdrawing_a_consent_by_the_action_keeps_the_row(as_ewa, a):
    consent = Consent.objects.filter(institution=a, status="granted", purpose="contact").first()
    response = as_ewa.post(
        url(Consent, "changelist"),
        {
            "action": "withdraw",
            "_selected_action": [consent.pk],
            "apply": "1",
            "reason": "Prośba uczestnika",
        },
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == "withdrawn"
    assert consent.withdrawn_by.username == "ewa"


def test_admitting_to_a_full_closed_group_is_refused_with_the_service_s_messages(as_admin):
    waiting = Enrollment.objects.filter(status="waitlisted").order_by("waitlisted_at").first()
    refusals = {
        "admit": "admits no one after its start without an admin's override",
        "admit_with_override": "The group is full (8 seats).",
    }
    for action, message in refusals.items():
        response = as_admin.post(
            url(Enrollment, "changelist"),
            {"action": action, "_selected_action": [waiting.pk]},
            follow=True,
        )
        assert any(message in str(m) for m in response.context["messages"])
        waiting.refresh_from_db()
        assert waiting.status == "waitlisted"


def test_clinical_rows_and_sessions_cannot_be_deleted(as_ewa, a):
    for model in (Participant, Consent, Enrollment, Session):
        obj = model.objects.filter(institution=a).first()
        assert as_ewa.get(url(model, "delete", obj.pk)).status_code == 403
        changelist = as_ewa.get(url(model, "changelist"))
        assert "delete_selected" not in changelist.content.decode()


# --- participants ------------------------------------------------------------------------------


def test_opening_a_participant_writes_participant_viewed_to_the_audit_log(as_ewa, a, users):
    participant = Participant.objects.filter(institution=a).first()
    response = as_ewa.get(url(Participant, "change", participant.pk))
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="participant.viewed").latest("id")
    assert (event.actor, event.object_id) == (users["ewa"], str(participant.pk))


def test_a_page_of_the_participant_list_is_one_logged_read_naming_everyone_shown(as_ewa, a, users):
    # Issue 15: the admin's list and search showed decrypted names and wrote nothing.
    response = as_ewa.get(url(Participant, "changelist"), {"q": "P-"})
    assert response.status_code == 200
    shown = [p.pk for p in response.context["cl"].result_list]
    assert shown
    event = AuditEvent.objects.filter(action="participant.listed").latest("id")
    assert (event.actor, event.institution, event.details["via"]) == (users["ewa"], a, "admin")
    assert event.details["ids"] == shown


def test_a_legal_name_is_shown_only_while_the_health_data_consent_is_in_force(as_ewa, a, users):
    participant = Participant.objects.filter(institution=a).exclude(legal_name="").first()
    assert participant.legal_name in as_ewa.get(url(Participant, "changelist")).content.decode()
    consent = Consent.objects.get(participant=participant, purpose="health_data")
    consent_withdraw(consent=consent, by=users["ewa"], reason="Cofnięcie zgody")
    assert participant.legal_name not in as_ewa.get(url(Participant, "changelist")).content.decode()
    page = as_ewa.get(url(Participant, "change", participant.pk)).content.decode()
    assert participant.legal_name not in page
    assert participant.code in page


# --- the audit log -----------------------------------------------------------------------------


def test_the_audit_log_cannot_be_added_to_changed_or_deleted_in_the_admin(as_admin):
    event = AuditEvent.objects.first()
    assert as_admin.get(url(AuditEvent, "add")).status_code == 403
    assert as_admin.post(url(AuditEvent, "change", event.pk), {"action": "x"}).status_code == 403
    assert as_admin.get(url(AuditEvent, "delete", event.pk)).status_code == 403
    assert as_admin.post(url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action=event.action).exists()


def test_ewa_reads_her_institutions_audit_log_only(as_ewa, a, b):
    response = as_ewa.get(url(AuditEvent, "changelist"), {"q": "consent"})
    assert response.status_code == 200
    shown = response.context["cl"].queryset
    assert shown.exists()
    assert not shown.filter(institution=b).exists()


def test_the_autocomplete_offers_ewa_only_her_institutions_participants(as_ewa, a, b):
    response = as_ewa.get(
        "/admin/autocomplete/",
        {
            "app_label": "attendance",
            "model_name": "enrollment",
            "field_name": "participant",
            "term": "P-000",
        },
    )
    assert response.status_code == 200
    offered = {int(row["id"]) for row in response.json()["results"]}
    assert offered
    assert offered <= set(Participant.objects.filter(institution=a).values_list("pk", flat=True))


def test_ewa_adds_a_co_facilitator_through_the_service(as_ewa, a, users):
    group = SupportGroup.objects.get(institution=a, name__startswith="Zapobieganie")
    response = as_ewa.post(
        url(GroupFacilitator, "add"),
        {"group": group.pk, "user": users["anna"].pk, "role": "co_facilitator"},
    )
    assert response.status_code == 302
    assert group.facilitator_roles.get(user=users["anna"]).role == "co_facilitator"
    assert AuditEvent.objects.filter(action="group.facilitator_set", actor=users["ewa"]).exists()


def test_staff_cannot_be_made_a_facilitator_in_the_admin(as_ewa, a, users):
    group = SupportGroup.objects.filter(institution=a).first()
    response = as_ewa.post(
        url(GroupFacilitator, "add"),
        {"group": group.pk, "user": users["marek"].pk, "role": "lead"},
    )
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not group.facilitator_roles.filter(user=users["marek"]).exists()


def test_an_alias_only_participant_cannot_be_given_a_name_through_the_admin(as_ewa, a):
    participant = Participant.objects.filter(institution=a, legal_name="").first()
    response = as_ewa.post(
        url(Participant, "change", participant.pk),
        {
            "alias": "Nowy pseudonim",
            "language": "pl",
            "legal_name": "Jan Kowalski",
            **INLINE_MANAGEMENT,
        },
    )
    assert response.status_code == 302
    participant.refresh_from_db()
    assert (participant.alias, participant.legal_name) == ("Nowy pseudonim", "")
    assert AuditEvent.objects.filter(
        action="participant.changed", object_id=str(participant.pk)
    ).exists()


def test_the_group_form_s_facilitator_inline_adds_through_the_service(as_ewa, a, users):
    group = SupportGroup.objects.get(institution=a, name__startswith="Zapobieganie")
    lead = group.facilitator_roles.get()
    data = {
        "name": group.name,
        "category": group.category,
        "membership_mode": group.membership_mode,
        "entry_points": "[]",
        "capacity": group.capacity,
        "min_size": group.min_size,
        "default_room": group.default_room_id,
        "language": group.language,
        "ground_rules": group.ground_rules,
        "status": group.status,
        "starts_on": group.starts_on.isoformat(),
        "ends_on": group.ends_on.isoformat(),
        "facilitator_roles-TOTAL_FORMS": 2,
        "facilitator_roles-INITIAL_FORMS": 1,
        "facilitator_roles-0-id": lead.pk,
        "facilitator_roles-0-group": group.pk,
        "facilitator_roles-0-user": lead.user_id,
        "facilitator_roles-0-role": lead.role,
        "facilitator_roles-1-group": group.pk,
        "facilitator_roles-1-user": users["ewa"].pk,
        "facilitator_roles-1-role": "observer",
        "sessions-TOTAL_FORMS": 0,
        "sessions-INITIAL_FORMS": 0,
        "enrollments-TOTAL_FORMS": 0,
        "enrollments-INITIAL_FORMS": 0,
    }
    response = as_ewa.post(url(SupportGroup, "change", group.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert group.facilitator_roles.get(user=users["ewa"]).role == "observer"
    assert AuditEvent.objects.filter(
        action="group.facilitator_set", object_id=str(group.pk), actor=users["ewa"]
    ).exists()
