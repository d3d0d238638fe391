"""Fixtures for the API tests: a signed-in client per persona and a small world per institution."""

import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from attendance.models import Consent
from sessions.models import SessionNote
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    ParticipantFactory,
    SessionFactory,
)


@pytest.fixture
def api():
    """api(user) -> an APIClient signed in as `user` (api(None): anonymous)."""

    def make(user):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")  # messages are asserted in English
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def _world(institution, group, facilitator):
    now = timezone.now()
    session = SessionFactory(group=group, sequence=1, starts_at=now - datetime.timedelta(hours=1))
    later = SessionFactory(group=group, sequence=2, starts_at=now + datetime.timedelta(days=7))
    first = EnrollmentFactory(group=group, created_by=facilitator)
    second = EnrollmentFactory(group=group, created_by=facilitator)
    consent = ConsentFactory(
        participant=first.participant,
        recorded_by=facilitator,
        purpose=Consent.Purpose.PARTICIPATION,
    )
    record = AttendanceFactory(
        session=session,
        enrollment=first,
        participant=first.participant,
        recorded_by=facilitator,
    )
    note = SessionNote.objects.create(
        session=session, kind=SessionNote.Kind.GROUP, author=facilitator, text="We talked."
    )
    outsider = ParticipantFactory(institution=institution)
    return SimpleNamespace(
        institution=institution,
        group=group,
        session=session,
        later=later,
        first=first.participant,
        second=second.participant,
        outsider=outsider,
        enrollment=first,
        enrollment2=second,
        consent=consent,
        record=record,
        note=note,
        site=group.default_room.site if group.default_room else None,
    )


@pytest.fixture
def world_a(institution_a, group_a, anna, room_a):
    world = _world(institution_a, group_a, anna)
    world.room = room_a
    world.site = room_a.site
    return world


@pytest.fixture
def world_b(institution_b, group_b, karim):
    from tests.factories import RoomFactory

    world = _world(institution_b, group_b, karim)
    world.room = RoomFactory(site__institution=institution_b)
    world.site = world.room.site
    return world
