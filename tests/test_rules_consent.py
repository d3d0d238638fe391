"""The rules of consent: how it is recorded, what each purpose unlocks, withdrawal at once
without losing history."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from attendance.models import Consent
from attendance.services import consent_grant, consent_withdraw, consents_expire, has_consent
from audit.models import AuditEvent
from clinics.models import Participant
from clinics.services import participant_register, participant_update

from .factories import ConsentFactory, GroupFactory, ParticipantFactory

Purpose = Consent.Purpose


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def kasia(institution_a):
    return ParticipantFactory(institution=institution_a, alias="Kasia")


def grant(participant, by, purpose=Purpose.PARTICIPATION, **kwargs):
    return consent_grant(
        participant=participant,
        purpose=purpose,
        method=kwargs.pop("method", Consent.Method.SIGNED_FORM),
        text_version=kwargs.pop("text_version", "2026-09"),
        by=by,
        **kwargs,
    )


def test_a_grant_records_how_who_and_which_text_in_one_event(kasia, marek):
    consent = grant(kasia, marek, method=Consent.Method.VERBAL, text_version=" v3 ")

    consent.refresh_from_db()
    assert (consent.status, consent.method, consent.text_version, consent.recorded_by) == (
        "granted",
        "verbal",
        "v3",
        marek,
    )
    assert has_consent(kasia, Purpose.PARTICIPATION)
    event = AuditEvent.objects.get()
    assert (event.action, event.details) == (
        "consent.granted",
        {"purpose": "participation", "participant": kasia.code},
    )


def test_a_grant_without_method_or_text_version_is_refused(kasia, marek):
    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, method="nod", text_version=" ")

    assert exc.value.message_dict == {
        "method": ["Say how the consent was given: signed form, verbal or electronic."],
        "text_version": ["Give the version of the consent text that was agreed to."],
    }
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_unknown_purpose_is_refused(kasia, marek):
    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, purpose="marketing")

    assert exc.value.message_dict == {"purpose": ["Unknown purpose."]}


def test_a_consent_in_force_cannot_be_granted_twice(kasia, marek):
    grant(kasia, marek, purpose=Purpose.CONTACT)

    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, purpose=Purpose.CONTACT)

    assert exc.value.message_dict == {"purpose": ["This consent is already granted and in force."]}
    assert Consent.objects.count() == 1


def test_a_group_consent_and_a_general_one_are_different_scopes(kasia, marek, group_a):
    grant(kasia, marek)
    grant(kasia, marek, group=group_a)

    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, group=group_a)

    assert exc.value.message_dict == {"purpose": ["This consent is already granted and in force."]}


def test_disclosure_needs_a_named_recipient(kasia, marek):
    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, purpose=Purpose.DISCLOSURE, recipient="  ")

    assert exc.value.message_dict == {
        "recipient": ["Name the third party the attendance may be disclosed to."]
    }


def test_the_database_refuses_a_disclosure_without_recipient(kasia):
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentFactory(participant=kasia, purpose=Purpose.DISCLOSURE, recipient="")


def test_disclosure_is_per_recipient(kasia, marek):
    grant(kasia, marek, purpose=Purpose.DISCLOSURE, recipient="District Court Kraków")
    grant(kasia, marek, purpose=Purpose.DISCLOSURE, recipient="Probation officer J. Nowak")

    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, purpose=Purpose.DISCLOSURE, recipient="district court kraków ")

    assert exc.value.message_dict == {"purpose": ["This consent is already granted and in force."]}
    assert has_consent(kasia, Purpose.DISCLOSURE, recipient="Probation officer J. Nowak")
    assert not has_consent(kasia, Purpose.DISCLOSURE, recipient="Employer")


def test_only_disclosure_names_a_recipient_and_only_participation_a_group(
    kasia, marek, group_a, institution_b
):
    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, purpose=Purpose.CONTACT, recipient="Court", group=group_a)
    assert exc.value.message_dict == {
        "recipient": ["Only a disclosure consent names a recipient."],
        "group": ["Only a participation consent names a group."],
    }

    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, group=GroupFactory(institution=institution_b))
    assert exc.value.message_dict == {"group": ["Unknown group."]}


def test_dates_must_make_sense(kasia, marek):
    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, granted_at=now + datetime.timedelta(days=1))
    assert exc.value.message_dict == {"granted_at": ["A consent cannot be granted in the future."]}

    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek, expires_at=now - datetime.timedelta(days=1))
    assert exc.value.message_dict == {"expires_at": ["A consent must expire after it was granted."]}


def test_the_auditor_and_another_institution_cannot_record_consents(kasia, marek, olga, karim):
    consent = grant(kasia, marek)

    for user in (olga, karim):
        with pytest.raises(PermissionDenied, match="record consents"):
            grant(kasia, user, purpose=Purpose.CONTACT)
        with pytest.raises(PermissionDenied, match="record consents"):
            consent_withdraw(consent=consent, by=user)
    assert Consent.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_an_erased_participant_gives_no_consent(kasia, marek):
    Participant.objects.filter(pk=kasia.pk).update(erased_at=timezone.now())
    kasia.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        grant(kasia, marek)

    assert exc.value.messages == ["This participant's data has been erased."]


# --- Withdrawal --------------------------------------------------------------------------------


def test_withdrawal_takes_effect_at_once_and_keeps_the_grant(kasia, marek, anna):
    consent = grant(kasia, marek)

    consent_withdraw(consent=consent, by=anna, reason=" Changed her mind ")

    assert not has_consent(kasia, Purpose.PARTICIPATION)
    consent.refresh_from_db()
    assert (consent.status, consent.withdrawn_by, consent.withdrawal_reason) == (
        "withdrawn",
        anna,
        "Changed her mind",
    )
    assert consent.withdrawn_at is not None
    assert (consent.recorded_by, consent.method) == (marek, "signed_form")
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "consent.granted",
        "consent.withdrawn",
    ]


def test_a_new_grant_after_withdrawal_is_a_new_row(kasia, marek):
    first = grant(kasia, marek)
    consent_withdraw(consent=first, by=marek)

    second = grant(kasia, marek)

    assert second.pk != first.pk
    assert list(Consent.objects.order_by("id").values_list("status", flat=True)) == [
        "withdrawn",
        "granted",
    ]


def test_a_withdrawn_or_expired_consent_cannot_be_withdrawn(kasia, marek):
    consent = grant(kasia, marek)
    consent_withdraw(consent=consent, by=marek)
    with pytest.raises(ValidationError) as exc:
        consent_withdraw(consent=consent, by=marek)
    assert exc.value.messages == ["This consent was already withdrawn."]

    lapsed = ConsentFactory(
        participant=kasia,
        purpose=Purpose.RESEARCH,
        expires_at=timezone.now() - datetime.timedelta(days=1),
    )
    with pytest.raises(ValidationError) as exc:
        consent_withdraw(consent=lapsed, by=marek)
    assert exc.value.messages == ["This consent is no longer in force."]


def test_withdrawing_contact_consent_stops_reminders_at_once(institution_a, marek):
    participant = participant_register(
        institution=institution_a,
        by=marek,
        alias="Kasia",
        consents=[
            {"purpose": Purpose.HEALTH_DATA, "method": "signed_form", "text_version": "v1"},
            {"purpose": Purpose.CONTACT, "method": "signed_form", "text_version": "v1"},
        ],
        email="kasia@example.org",
        reminder_channel="email",
    )
    changed_before = participant.updated_at
    contact = Consent.objects.get(purpose=Purpose.CONTACT)

    consent_withdraw(consent=contact, by=marek)

    participant.refresh_from_db()
    assert participant.reminder_channel == Participant.Channel.NONE
    assert participant.email == "kasia@example.org"  # withdrawal deletes nothing
    assert participant.updated_at > changed_before  # so that the mobile app syncs the change


def test_a_reminder_channel_needs_the_contact_consent(institution_a, marek):
    participant = participant_register(
        institution=institution_a,
        by=marek,
        alias="Kasia",
        consents=[{"purpose": Purpose.HEALTH_DATA, "method": "verbal", "text_version": "v1"}],
        phone="+48 600 100 200",
    )

    with pytest.raises(ValidationError) as exc:
        participant_update(participant=participant, by=marek, reminder_channel="sms")

    assert exc.value.message_dict == {
        "reminder_channel": ["Reminders need the participant's consent to be contacted."]
    }
    grant(participant, marek, purpose=Purpose.CONTACT)
    participant_update(participant=participant, by=marek, reminder_channel="sms")
    participant.refresh_from_db()
    assert participant.reminder_channel == "sms"


def test_withdrawing_health_data_consent_refuses_further_identity(institution_a, marek):
    participant = participant_register(
        institution=institution_a,
        by=marek,
        alias="Kasia",
        consents=[{"purpose": Purpose.HEALTH_DATA, "method": "verbal", "text_version": "v1"}],
        legal_name="Katarzyna K.",
    )
    consent_withdraw(consent=participant.consents.get(), by=marek)

    with pytest.raises(ValidationError) as exc:
        participant_update(participant=participant, by=marek, legal_name="Katarzyna Kowalska")

    assert list(exc.value.message_dict) == ["legal_name"]


def test_expired_consents_are_marked_with_one_event_each(kasia, marek):
    past = timezone.now() - datetime.timedelta(days=1)
    lapsed = ConsentFactory(participant=kasia, purpose=Purpose.RESEARCH, expires_at=past)
    ConsentFactory(participant=kasia, purpose=Purpose.CONTACT)

    assert consents_expire() == 1

    lapsed.refresh_from_db()
    assert lapsed.status == Consent.Status.EXPIRED
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["consent.expired"]
    assert consents_expire() == 0


def test_the_database_refuses_a_withdrawal_without_its_moment(kasia):
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentFactory(participant=kasia, status=Consent.Status.WITHDRAWN, withdrawn_at=None)


def test_withdrawing_the_health_data_consent_leaves_only_the_alias_and_the_history(
    institution_a, marek, group_a
):
    participant = participant_register(
        institution=institution_a,
        by=marek,
        alias="Kasia",
        consents=[
            {"purpose": Purpose.HEALTH_DATA, "method": "signed_form", "text_version": "v1"},
            {"purpose": Purpose.CONTACT, "method": "signed_form", "text_version": "v1"},
        ],
        legal_name="Katarzyna Kowalska",
        email="kasia@example.org",
        phone="+48 600 100 200",
        birth_year=1990,
        reminder_channel="email",
    )
    health = Consent.objects.get(participant=participant, purpose=Purpose.HEALTH_DATA)
    logged = AuditEvent.objects.count()

    consent_withdraw(consent=health, by=marek, reason="Asked to be forgotten by name.")

    participant.refresh_from_db()
    assert (participant.alias, participant.code) == ("Kasia", "P-00001")
    assert (participant.legal_name, participant.email, participant.phone) == ("", "", "")
    assert participant.birth_year is None
    assert participant.reminder_channel == Participant.Channel.NONE
    # The history stays: both consents, the withdrawn one with who, when and why.
    health.refresh_from_db()
    assert (health.status, health.withdrawn_by, health.withdrawal_reason) == (
        "withdrawn",
        marek,
        "Asked to be forgotten by name.",
    )
    assert participant.consents.count() == 2
    events = list(AuditEvent.objects.order_by("id"))[logged:]
    assert [(e.action, e.details) for e in events] == [
        ("consent.withdrawn", {"purpose": "health_data", "participant": participant.code}),
        (
            "participant.identity_cleared",
            {
                "fields": ["legal_name", "email", "phone", "birth_year"],
                "why": "health_data consent withdrawn",
            },
        ),
    ]
    assert "Kowalska" not in str([e.details for e in events])  # the log keeps no values


def test_withdrawing_another_purpose_leaves_the_identity(institution_a, marek):
    participant = participant_register(
        institution=institution_a,
        by=marek,
        alias="Kasia",
        consents=[{"purpose": Purpose.HEALTH_DATA, "method": "verbal", "text_version": "v1"}],
        legal_name="Katarzyna Kowalska",
    )
    research = grant(participant, marek, purpose=Purpose.RESEARCH)

    consent_withdraw(consent=research, by=marek)

    participant.refresh_from_db()
    assert participant.legal_name == "Katarzyna Kowalska"
    assert not AuditEvent.objects.filter(action="participant.identity_cleared").exists()
