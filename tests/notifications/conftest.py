import datetime

import pytest
from django.utils import timezone

from attendance.models import Consent
from clinics.models import Participant
from tests.factories import ConsentFactory, EnrollmentFactory, ParticipantFactory, SessionFactory


def make_member(group, *, channel=Participant.Channel.EMAIL, consent=True, name="member"):
    """An active member of `group` reachable by `channel`, with a contact consent or not."""
    participant = ParticipantFactory(
        institution=group.institution,
        alias=name,
        email=f"{name}@example.org",
        phone="+48600100200",
        reminder_channel=channel,
        language="en",  # the assertions read English texts
    )
    EnrollmentFactory(group=group, participant=participant)
    if consent:
        ConsentFactory(participant=participant, purpose=Consent.Purpose.CONTACT)
    return participant


@pytest.fixture
def tomorrow_session(group_a, room_a):
    """A scheduled session of group_a starting in 20 hours, in room_a."""
    starts = timezone.now() + datetime.timedelta(hours=20)
    return SessionFactory(group=group_a, starts_at=starts, room=room_a, online_link="")


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a task eagerly, as a worker would, including what it enqueues after its commit."""

    def _run(task, *args):
        with django_capture_on_commit_callbacks(execute=True):
            return task.delay(*args).get()

    return _run
