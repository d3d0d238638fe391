"""The rules of registering people: pseudonymous codes, identity only with consent, roles."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import translation

from attendance.models import Consent
from audit.models import AuditEvent
from clinics.models import Participant, StaffMembership
from clinics.services import participant_erase, participant_register, participant_update

from .factories import ConsentFactory, InstitutionFactory, MembershipFactory, UserFactory

HEALTH = {"purpose": Consent.Purpose.HEALTH_DATA, "method": "signed_form", "text_version": "v1"}
IDENTITY_REFUSED = (
    "Without consent to the processing of health-related data only an alias can be registered."
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def messages(exc_info) -> dict:
    return exc_info.value.message_dict


def test_participant_codes_count_up_per_institution(institution_a, institution_b, marek, karim):
    first = participant_register(institution=institution_a, by=marek, alias="Kasia")
    second = participant_register(institution=institution_a, by=marek, alias="Tomek")
    elsewhere = participant_register(institution=institution_b, by=karim, alias="Omar")

    assert (first.code, second.code) == ("P-00001", "P-00002")
    assert elsewhere.code == "P-00001"
    institution_a.refresh_from_db()
    assert institution_a.last_participant_number == 2


def test_registering_writes_one_audit_event(institution_a, marek):
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.object_id) == (
        "participant.registered",
        marek,
        str(participant.pk),
    )
    assert event.institution == institution_a


def test_registering_with_consents_writes_one_event_per_consent_and_one_for_the_person(
    institution_a, marek
):
    participant_register(
        institution=institution_a, by=marek, alias="Kasia", consents=[HEALTH], legal_name="K. K."
    )

    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        "consent.granted",
        "participant.registered",
    ]


def test_an_alias_is_required(institution_a, marek):
    with pytest.raises(ValidationError) as exc:
        participant_register(institution=institution_a, by=marek, alias="   ")

    assert messages(exc) == {"alias": ["Give at least an alias."]}
    assert not Participant.objects.exists()


def test_system_fields_cannot_be_set(institution_a, marek):
    with pytest.raises(ValidationError) as exc:
        participant_register(institution=institution_a, by=marek, alias="Kasia", code="P-99999")

    assert messages(exc) == {"code": ["This field cannot be set."]}


def test_identity_without_health_data_consent_is_refused_and_nothing_is_written(
    institution_a, marek
):
    with pytest.raises(ValidationError) as exc:
        participant_register(
            institution=institution_a, by=marek, alias="Kasia", legal_name="Katarzyna Kowalska"
        )

    assert messages(exc) == {"legal_name": [IDENTITY_REFUSED]}
    assert not Participant.objects.exists()
    assert not AuditEvent.objects.exists()
    institution_a.refresh_from_db()
    assert institution_a.last_participant_number == 0  # the number was not used up


def test_identity_with_health_data_consent_given_at_registration_is_kept(institution_a, marek):
    participant = participant_register(
        institution=institution_a,
        by=marek,
        alias="Kasia",
        consents=[HEALTH],
        legal_name="Katarzyna Kowalska",
        birth_year=1980,
    )

    participant.refresh_from_db()
    assert (participant.legal_name, participant.birth_year) == ("Katarzyna Kowalska", 1980)


def test_updating_identity_without_health_data_consent_is_refused(institution_a, marek):
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    with pytest.raises(ValidationError) as exc:
        participant_update(
            participant=participant, by=marek, phone="+48 600 000 000", birth_year=1990
        )

    assert messages(exc) == {"phone": [IDENTITY_REFUSED], "birth_year": [IDENTITY_REFUSED]}
    participant.refresh_from_db()
    assert participant.phone == ""


def test_updating_identity_after_a_withdrawn_health_data_consent_is_refused(institution_a, marek):
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")
    ConsentFactory(
        participant=participant,
        purpose=Consent.Purpose.HEALTH_DATA,
        status=Consent.Status.WITHDRAWN,
        withdrawn_at=participant.created_at,
    )

    with pytest.raises(ValidationError) as exc:
        participant_update(participant=participant, by=marek, legal_name="Katarzyna")

    assert messages(exc) == {"legal_name": [IDENTITY_REFUSED]}


def test_email_reminders_need_an_email_address(institution_a, marek):
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    with pytest.raises(ValidationError) as exc:
        participant_update(participant=participant, by=marek, reminder_channel="email")

    assert messages(exc) == {"email": ["E-mail reminders need an e-mail address."]}


def test_an_update_writes_one_audit_event_naming_the_changed_fields(institution_a, marek):
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    participant_update(participant=participant, by=marek, alias="Kasia W.", language="pl")

    event = AuditEvent.objects.filter(action="participant.changed").get()
    assert event.details == {"fields": ["alias", "language"]}


def test_the_auditor_cannot_register_or_change_participants(institution_a, olga, marek):
    with pytest.raises(PermissionDenied, match="register participants"):
        participant_register(institution=institution_a, by=olga, alias="Kasia")
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    with pytest.raises(PermissionDenied, match="change participants"):
        participant_update(participant=participant, by=olga, alias="Other")


def test_another_institutions_facilitator_cannot_register_or_change_participants(
    institution_a, marek, karim
):
    with pytest.raises(PermissionDenied):
        participant_register(institution=institution_a, by=karim, alias="Kasia")
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    with pytest.raises(PermissionDenied):
        participant_update(participant=participant, by=karim, alias="Other")
    assert AuditEvent.objects.count() == 1


def test_an_inactive_membership_grants_nothing(institution_a):
    user = UserFactory(username="former")
    MembershipFactory(
        user=user, institution=institution_a, role=StaffMembership.Role.STAFF, is_active=False
    )

    with pytest.raises(PermissionDenied):
        participant_register(institution=institution_a, by=user, alias="Kasia")


def test_only_an_admin_erases_and_erasure_keeps_the_code(institution_a, ewa, marek):
    participant = participant_register(
        institution=institution_a, by=marek, alias="Kasia", consents=[HEALTH], legal_name="K. K."
    )
    with pytest.raises(PermissionDenied, match="erase participants"):
        participant_erase(participant=participant, by=marek)

    participant_erase(participant=participant, by=ewa, reason="GDPR request")

    participant.refresh_from_db()
    assert (participant.code, participant.alias, participant.legal_name) == ("P-00001",) * 2 + ("",)
    assert participant.is_erased
    with pytest.raises(ValidationError) as exc:
        participant_erase(participant=participant, by=ewa)
    assert exc.value.messages == ["This participant's data has already been erased."]
    with pytest.raises(ValidationError) as exc:
        participant_update(participant=participant, by=marek, alias="Back")
    assert exc.value.messages == ["This participant's data has been erased."]


def test_the_database_refuses_two_participants_with_one_number(institution_a, marek):
    participant = participant_register(institution=institution_a, by=marek, alias="Kasia")

    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(
            institution=institution_a, number=participant.number, code="P-X", alias="Copy"
        )


@pytest.mark.django_db(transaction=True)
def test_participant_codes_stay_unique_when_registrations_race():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; the row lock matters on PostgreSQL")
    institution = InstitutionFactory()
    user = UserFactory(username="reception")
    MembershipFactory(user=user, institution=institution, role=StaffMembership.Role.STAFF)
    start = threading.Barrier(4)

    def register(n):
        try:
            start.wait(timeout=10)
            return participant_register(institution=institution, by=user, alias=f"Walk-in {n}").code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(register, range(4)))

    assert sorted(codes) == ["P-00001", "P-00002", "P-00003", "P-00004"]


def test_a_changed_role_counts_at_once_for_the_same_user_object(ewa, anna, institution_a):
    """Memberships are read once per user object (one query per request); changing one through
    the service makes the next check read them again."""
    from clinics.models import Participant
    from clinics.roles import role_of
    from clinics.services import membership_save

    assert role_of(anna, institution_a) == StaffMembership.Role.FACILITATOR
    assert Participant.objects.for_user(anna).query is not None
    membership = StaffMembership.objects.get(user=anna, institution=institution_a)
    membership.is_active = False
    membership.user = anna  # the very object the request holds
    membership_save(membership=membership, by=ewa)
    assert role_of(anna, institution_a) is None
    assert not Participant.objects.for_user(anna).exists()
    with pytest.raises(PermissionDenied):
        participant_register(institution=institution_a, by=anna, alias="Nowy")
