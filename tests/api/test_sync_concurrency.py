"""A device copying a list while others write (PostgreSQL, real concurrent transactions): once
it has synced by token until nothing comes, it holds exactly what a fresh read shows.

The writer keeps some of its transactions open across the device's pages (it sleeps before
committing): the change numbers of those commits are older than pages already read, the case
that loses rows when a sync resumes from a timestamp or a plain sequence value.
"""

import itertools
import random
import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction
from rest_framework.test import APIClient

from attendance.services import Mark, attendance_record
from clinics.models import Participant
from sessions.models import SessionNote
from sessions.services import note_write
from tests.api.test_sync import apply, sync_all
from tests.factories import EnrollmentFactory, ParticipantFactory

pytestmark = pytest.mark.django_db(transaction=True)

STATUSES = ["present", "late", "excused", "unexcused"]


def _attendance(world, anna):
    """Marks of one session; the device syncs only the present ones, so a correction away
    from present leaves its view (a removal) and one back to present enters it."""
    people = [world.first, world.second]
    for _ in range(10):
        people.append(EnrollmentFactory(group=world.group, created_by=anna).participant)
    attendance_record(
        session=world.session,
        marks=[Mark(participant_id=p.pk, status="present") for p in people[:8]],
        by=anna,
    )

    def write(rng):
        person = rng.choice(people)
        # Marking someone not yet marked creates a record; the others are corrections.
        attendance_record(
            session=world.session,
            marks=[Mark(participant_id=person.pk, status=rng.choice(STATUSES))],
            by=anna,
        )

    def fresh(client):
        return _read_all(client, "/api/v1/attendance/", status="present")

    return "/api/v1/attendance/", {"status": "present"}, write, fresh


def _participants(world, anna):
    numbers = itertools.count()

    def write(rng):
        mine = list(
            Participant.objects.filter(institution=world.institution, alias__startswith="S-")
        )
        choice = rng.random()
        if choice < 0.4 or not mine:
            ParticipantFactory(institution=world.institution, alias=f"S-{next(numbers)}")
        elif choice < 0.8:
            Participant.objects.filter(pk=rng.choice(mine).pk).update(alias=f"S-{next(numbers)}")
        else:
            # Hard-deleted (a row registered by mistake, nothing refers to it): a tombstone.
            Participant.objects.filter(pk=rng.choice(mine).pk).delete()

    def fresh(client):
        return _read_all(client, "/api/v1/participants/")

    return "/api/v1/participants/", {}, write, fresh


def _notes(world, anna):
    people = [world.first, world.second]
    for _ in range(6):
        people.append(EnrollmentFactory(group=world.group, created_by=anna).participant)
    for person in people[:6]:
        note_write(
            session=world.session,
            by=anna,
            kind=SessionNote.Kind.PARTICIPANT,
            participant=person,
            text="First note",
        )

    def write(rng):
        person = rng.choice(people)
        existing = SessionNote.objects.filter(session=world.session, participant=person).first()
        if existing is not None and rng.random() < 0.25:
            SessionNote.objects.filter(pk=existing.pk).delete()
            return
        note_write(
            session=world.session,
            by=anna,
            kind=SessionNote.Kind.PARTICIPANT,
            participant=person,
            text=f"Note {rng.random()}",
        )

    def fresh(client):
        return _read_all(client, "/api/v1/notes/")

    return "/api/v1/notes/", {}, write, fresh


def _read_all(client, url, **params):
    rows, page = {}, 1
    while True:
        body = client.get(url, {**params, "page": page, "page_size": 200}).json()
        rows.update({row["id"]: row for row in body["results"]})
        if not body["next"]:
            return rows
        page += 1


@pytest.mark.parametrize("scenario", [_attendance, _participants, _notes])
def test_a_device_copying_while_others_write_ends_with_what_a_fresh_read_shows(
    anna, world_a, scenario
):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions (PostgreSQL)")
    url, params, write, fresh = scenario(world_a, anna)
    stop = threading.Event()
    started = threading.Barrier(2)
    errors = []

    def writer():
        rng = random.Random(7)
        try:
            started.wait()
            while not stop.is_set():
                with transaction.atomic():
                    write(rng)
                    if rng.random() < 0.5:
                        time.sleep(rng.uniform(0.005, 0.04))  # committed after later pages
        except Exception as exc:  # a failed writer must fail the test, not hang it
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    client = APIClient()
    client.force_authenticate(anna)
    started.wait()
    try:
        copy, removed, token, pages = sync_all(client, url, sync="start", page_size=3, **params)
        for _ in range(3):  # and a few syncs while the writer is still at it
            token = apply(copy, client, url, token, page_size=3)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    for _ in range(10):  # sync by token until nothing comes
        rows, removed, token, _ = sync_all(client, url, sync_token=token, page_size=3)
        for pk in removed:
            copy.pop(pk, None)
        copy.update(rows)
        if not rows and not removed:
            break
    else:
        pytest.fail("the sync never ran dry after the writes stopped")
    assert copy == fresh(client)
    assert pages > 1
