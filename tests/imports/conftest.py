"""Helpers of the import tests: the sample files of docs/import/ as uploads, and a group with
past sessions on the sample attendance's dates and members with the sample's codes."""

import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import EnrollmentFactory, ParticipantFactory, SessionFactory
from tests.notifications.test_broker import broker, publishing  # noqa: F401 - fixtures

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "import"
SAMPLE_DATES = (datetime.date(2026, 10, 6), datetime.date(2026, 10, 13))


def sample(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (SAMPLES / name).read_bytes())


def upload(name: str, content: bytes | str) -> SimpleUploadedFile:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return SimpleUploadedFile(name, content)


@pytest.fixture
def register_group(group_a, institution_a):
    """group_a with members P-00001..P-00003 since September and a session on each sample
    date at 18:00 Warsaw time."""
    group_a.starts_on = datetime.date(2026, 9, 1)
    group_a.save(update_fields=["starts_on"])
    members = []
    for alias in ("Kasia", "Tomek", "Ola"):
        person = ParticipantFactory(institution=institution_a, alias=alias)
        EnrollmentFactory(group=group_a, participant=person, joined_on=datetime.date(2026, 9, 1))
        members.append(person)
    sessions = []
    for number, day in enumerate(SAMPLE_DATES, start=1):
        starts = datetime.datetime.combine(day, datetime.time(18), tzinfo=institution_a.tzinfo)
        sessions.append(
            SessionFactory(
                group=group_a,
                sequence=number,
                starts_at=starts,
                ends_at=starts + datetime.timedelta(minutes=90),
            )
        )
    return group_a, members, sessions


@pytest.fixture
def ui(client):
    """ui(user) -> the test client signed in as `user`, pages in `language`."""

    def make(user, language="en"):
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return client

    return make


@pytest.fixture
def api():
    """api(user) -> an APIClient signed in as `user`, messages in English."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(user)
        return client

    return make
