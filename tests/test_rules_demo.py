"""The demo shows the institution's rules: consent texts in three languages for every purpose
(the consents point at them), a paused group with its cancelled sessions, an ended group, a
semi-open group with marked entry points and an offer timed to the next one, and a trainee's
note waiting for co-signature."""

import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from attendance.models import Consent, ConsentText, Enrollment
from sessions.models import Session, SessionNote, SupportGroup


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", password="s3cret-demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded, db):
    return None


def test_every_purpose_has_a_text_in_polish_english_and_arabic_and_consents_point_at_them(demo):
    for purpose in Consent.Purpose.values:
        languages = set(
            ConsentText.objects.filter(purpose=purpose).values_list("language", flat=True)
        )
        assert languages == {"pl", "en", "ar"}, purpose
    assert not Consent.objects.filter(text__isnull=True).exists()


def test_a_paused_group_with_its_cancelled_sessions_and_an_ended_group(demo):
    paused = SupportGroup.objects.get(status=SupportGroup.Status.PAUSED)
    assert paused.resume_on and paused.status_reason
    assert paused.sessions.filter(status=Session.Status.CANCELLED, cancelled_by="centre").exists()
    ended = SupportGroup.objects.get(status=SupportGroup.Status.ENDED)
    assert not ended.sessions.filter(status=Session.Status.SCHEDULED).exists()
    assert not ended.enrollments.filter(status__in=Enrollment.OPEN_STATUSES).exists()


def test_a_semi_open_group_offers_a_seat_until_its_next_entry_session(demo):
    offer = Enrollment.objects.get(group__name__contains="depresj", offer_expires_at__isnull=False)
    entry = offer.group.sessions.filter(
        status=Session.Status.SCHEDULED, is_entry_point=True, starts_at=offer.offer_expires_at
    )
    assert entry.exists()
    assert not offer.group.sessions.filter(
        status="scheduled",
        starts_at__gt=timezone.now(),
        starts_at__lt=offer.offer_expires_at,
        is_entry_point=True,
    ).exists()


def test_a_trainees_note_waits_for_co_signature(demo):
    note = SessionNote.objects.get(needs_cosignature=True, cosigned_at__isnull=True)
    assert note.signed_at is not None and note.author.username == "piotr"
