"""Staff UI fixtures: a begun session of anna's group with three members."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from attendance.models import Consent
from tests import clock
from tests.factories import (
    ConsentFactory,
    EnrollmentFactory,
    ParticipantFactory,
    SessionFactory,
)


@pytest.fixture
def client(client):
    """The UI in English for the assertions (the site's default language is Polish)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def members_a(group_a, anna):
    """Three active members of group_a, each with the participation consent."""
    enrollments = [
        EnrollmentFactory(
            group=group_a,
            participant=ParticipantFactory(institution=group_a.institution, alias=alias),
            created_by=anna,
        )
        for alias in ("Ala", "Basia", "Cyryl")
    ]
    for enrollment in enrollments:
        ConsentFactory(
            participant=enrollment.participant,
            purpose=Consent.Purpose.PARTICIPATION,
            recorded_by=anna,
        )
    return enrollments


@pytest.fixture
def begun_session(group_a, members_a, room_a):
    """A session of group_a that began ten minutes ago."""
    starts = timezone.now() - datetime.timedelta(minutes=10)
    return SessionFactory(
        group=group_a,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=90),
        room=room_a,
        online_link="",
    )


@pytest.fixture
def future_session(group_a, members_a, room_a):
    """A session of group_a the day after tomorrow, 18:00–19:30 in Warsaw."""
    starts = clock.days_ahead_at(2, 18)
    return SessionFactory(
        group=group_a,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=90),
        room=room_a,
        online_link="",
    )
