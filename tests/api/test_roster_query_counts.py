"""Marking a roster through the API costs the same few queries for 3 people and for 12: the
marks, their corrections (revisions), their audit events and the follow-ups are written in
bulk, and the answer is built from what the write read and wrote, not read again."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from attendance.models import AttendanceRecord, AttendanceRevision, FollowUpTask
from audit.models import AuditEvent
from sessions.models import Session
from tests.api.errors import under
from tests.factories import (
    AttendanceFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    GroupFactory,
    SessionFactory,
)

# What every request pays before the roster: the token, the user's memberships (the scope
# and the role, read once), the session.
REQUEST = 3
# The service's transaction (a SAVEPOINT and its RELEASE inside the test's transaction), the
# session's lock, the roster and the marks' lock.
TAKING_ATTENDANCE = 2 + 3
RE_SEND = REQUEST + TAKING_ATTENDANCE  # nothing changed, nothing written
FIRST_MARKS = RE_SEND + 3  # the session marked held, the marks, their audit events
CORRECTIONS = RE_SEND + 3  # the earlier versions, the marks, their audit events
# The previous session's absences, the tasks there already are, the lead facilitator, the new
# tasks (their audit events go with the marks').
FOLLOW_UPS = 4
# Absences sent again: two of the follow-up questions, with nothing left to raise.
ABSENCES_SENT_AGAIN = RE_SEND + 2


def _client(user):
    _, token = AuthToken.objects.create(user)
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT_LANGUAGE="en")


def _group_of(anna, institution, n):
    """A group led by anna with `n` members, a session a week ago and one an hour ago."""
    group = GroupFactory(institution=institution)
    GroupFacilitatorFactory(group=group, user=anna)
    now = timezone.now()
    earlier = SessionFactory(
        group=group, sequence=1, starts_at=now - datetime.timedelta(days=7, hours=1)
    )
    session = SessionFactory(group=group, sequence=2, starts_at=now - datetime.timedelta(hours=1))
    people = [EnrollmentFactory(group=group, created_by=anna).participant for _n in range(n)]
    return earlier, session, people


def _url(session):
    return f"/api/v1/sessions/{session.pk}/attendance/"


def _put(client, session, people, status):
    """PUT everyone's mark; the number of queries it cost and the answer."""
    body = {"marks": [{"participant": p.pk, "status": status} for p in people]}
    with CaptureQueriesContext(connection) as ctx:
        response = client.put(_url(session), body, format="json")
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def test_marking_a_roster_costs_the_same_few_queries_for_3_and_12_people(anna, institution_a):
    counts = {}
    for n in (3, 12):
        _, session, people = _group_of(anna, institution_a, n)
        client = _client(anna)
        first, _ = _put(client, session, people, "present")
        corrected, answer = _put(client, session, people, "late")
        again, _ = _put(client, session, people, "late")
        counts[n] = (first, corrected, again)

        assert [(m["status"], m["version"]) for m in answer["marks"]] == [("late", 2)] * n
        assert AttendanceRevision.objects.filter(record__session=session).count() == n
        assert AttendanceRecord.objects.filter(session=session, version=2).count() == n

    assert counts[3] == counts[12], counts
    first, corrected, again = counts[3]
    assert first <= FIRST_MARKS, counts
    assert corrected <= CORRECTIONS, counts
    assert again <= RE_SEND, counts
    assert AuditEvent.objects.filter(action="attendance.recorded").count() == 3 + 12
    assert AuditEvent.objects.filter(action="attendance.corrected").count() == 3 + 12


def test_corrections_raising_follow_ups_cost_the_same_for_3_and_12_people(anna, institution_a):
    counts = {}
    for n in (3, 12):
        earlier, session, people = _group_of(anna, institution_a, n)
        client = _client(anna)
        _put(client, earlier, people, "unexcused")
        _put(client, session, people, "present")
        counts[n] = (
            _put(client, session, people, "unexcused")[0],  # corrections + follow-ups
            _put(client, session, people, "unexcused")[0],  # raised already: nothing new
        )

    assert counts[3] == counts[12], counts
    raising, again = counts[3]
    assert raising <= CORRECTIONS + FOLLOW_UPS, counts
    assert again <= ABSENCES_SENT_AGAIN, counts
    # Two unexplained absences in a row: a follow-up per person, raised once, for anna.
    tasks = FollowUpTask.objects.filter(status=FollowUpTask.Status.OPEN)
    assert set(tasks.values_list("assigned_to", flat=True)) == {anna.pk}
    assert tasks.count() == 3 + 12
    assert AuditEvent.objects.filter(action="follow_up.raised").count() == 3 + 12


def test_the_answer_to_a_put_is_what_a_get_then_reads(anna, institution_a):
    _, session, people = _group_of(anna, institution_a, 3)
    # Two people marked earlier who left on the session's day stay on the answer, after the
    # members, by participant number (the one with the higher number was marked first).
    gone = [
        EnrollmentFactory(
            group=session.group, status="withdrawn", left_on=session.local_date(), created_by=anna
        )
        for _n in range(2)
    ]
    for enrollment in reversed(gone):
        AttendanceFactory(
            session=session, enrollment=enrollment, participant=enrollment.participant
        )
    client = _client(anna)
    first = [
        {"participant": people[0].pk, "status": "late", "arrived_at": "18:10"},
        {"participant": people[1].pk, "status": "left_early", "left_at": "19:05:30"},
    ]
    corrections = [
        {"participant": people[0].pk, "status": "present"},
        {"participant": people[1].pk, "status": "left_early", "left_at": "19:05:30"},  # same
        {"participant": people[2].pk, "status": "excused"},
    ]

    answers = []
    for marks in (first, corrections):
        put = client.put(_url(session), {"marks": marks}, format="json")
        get = client.get(_url(session))
        assert put.status_code == get.status_code == 200, put.content
        assert put.json() == get.json()
        assert put["ETag"] == get["ETag"]
        answers.append(put.json())

    assert answers[0]["session_status"] == "held"
    assert [(m["participant"]["id"], m["on_roster"]) for m in answers[1]["marks"]] == [
        *((p.pk, True) for p in people),
        *((e.participant_id, False) for e in gone),
    ]
    assert [
        (m["status"], m["version"], m["arrived_at"], m["left_at"]) for m in answers[1]["marks"]
    ] == [
        ("present", 2, None, None),
        ("left_early", 1, None, "19:05:30"),
        ("excused", 1, None, None),
        ("present", 1, None, None),
        ("present", 1, None, None),
    ]
    assert [m["enrollment"] for m in answers[1]["marks"][3:]] == [e.pk for e in gone]


def test_a_refused_put_writes_nothing(anna, institution_a):
    _, session, people = _group_of(anna, institution_a, 3)
    client = _client(anna)
    _put(client, session, people[:2], "present")

    def written():
        return (
            list(AttendanceRecord.objects.values_list("pk", "status", "version", "updated_at")),
            AttendanceRevision.objects.count(),
            AuditEvent.objects.count(),
        )

    before = written()
    body = {
        "marks": [
            {"participant": people[0].pk, "status": "late"},  # a correction
            {"participant": people[2].pk, "status": "present"},  # a first mark
            {"participant": people[1].pk, "status": "excused", "arrived_at": "18:05"},
        ]
    }
    response = client.put(_url(session), body, format="json")

    assert response.status_code == 400
    assert list(under(response, "marks")) == [str(people[1].pk)]
    assert written() == before


def test_a_first_roster_marks_the_session_held(anna, institution_a):
    _, session, people = _group_of(anna, institution_a, 2)

    _, answer = _put(_client(anna), session, people, "present")

    assert answer["session_status"] == "held"
    assert Session.objects.get(pk=session.pk).status == Session.Status.HELD


def test_a_roster_shown_by_alias_decrypts_no_legal_name(anna, institution_a, monkeypatch):
    from clinics import fields
    from clinics.models import Participant

    _, session, people = _group_of(anna, institution_a, 4)
    Participant.objects.filter(pk__in=[p.pk for p in people]).update(legal_name="")
    for person in people:  # stored encrypted, as the model stores them
        person.legal_name = f"Name {person.pk}"
        person.save(update_fields=["legal_name"])
    decrypted = []
    real = fields.decrypt_str
    monkeypatch.setattr(fields, "decrypt_str", lambda token: decrypted.append(1) or real(token))
    client = _client(anna)
    _put(client, session, people, "present")
    got = client.get(_url(session))
    assert got.status_code == 200
    assert sorted(m["participant"]["display"] for m in got.json()["marks"]) == sorted(
        p.alias for p in people
    )
    assert decrypted == []  # neither the PUT nor the GET held a name in clear
