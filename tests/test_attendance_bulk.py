"""Taking attendance writes in bulk (one insert per table, one update for the corrections): the
rows written are the ones written one by one before — marks, earlier versions, audit events and
follow-ups, with the same fields, in the same order."""

import pytest
from django.utils import timezone, translation

from audit.context import Origin, current_origin
from audit.models import AuditEvent
from audit.services import audit_event, audit_record, audit_record_many

ORIGIN = Origin(ip_address="192.0.2.7", client="krag-mobile/2.1")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def from_the_app():
    """A request from the mobile app: the address and client the audit log records."""
    token = current_origin.set(ORIGIN)
    yield ORIGIN
    current_origin.reset(token)


def fields(event: AuditEvent) -> tuple:
    return (
        event.actor_id,
        event.actor_username,
        event.institution_id,
        event.action,
        event.object_type,
        event.object_id,
        event.ip_address,
        event.client,
        event.details,
    )


# --- The audit log in bulk -------------------------------------------------------------------


def test_events_written_in_bulk_read_as_those_written_one_by_one(
    institution_a, group_a, anna, from_the_app
):
    kinds = [
        dict(actor=anna, action="x.done", obj=group_a, details={"n": 1}),
        dict(actor=None, action="x.raised", obj=group_a),
        dict(actor=anna, action="x.noted", institution=institution_a),
    ]
    started = timezone.now()

    one_by_one = [audit_record(**kind) for kind in kinds]
    in_bulk = audit_record_many(audit_event(**kind) for kind in kinds)

    assert [fields(e) for e in in_bulk] == [fields(e) for e in one_by_one]
    assert fields(in_bulk[0]) == (
        anna.pk,
        "anna",
        institution_a.pk,
        "x.done",
        "group_sessions.supportgroup",
        str(group_a.pk),
        "192.0.2.7",
        "krag-mobile/2.1",
        {"n": 1},
    )
    assert fields(in_bulk[1])[:2] == (None, "")
    written = list(AuditEvent.objects.filter(pk__in=[e.pk for e in in_bulk]).order_by("id"))
    assert [fields(e) for e in written] == [fields(e) for e in in_bulk]
    # bulk_create fills auto_now_add as save() does.
    assert all(started <= e.created_at <= timezone.now() for e in written)
    assert [e.created_at for e in written] == [e.created_at for e in in_bulk]


def test_an_event_already_written_is_not_written_again(institution_a, anna):
    event = audit_record(actor=anna, action="x.done", obj=institution_a)

    with pytest.raises(TypeError, match="append-only"):
        audit_record_many([audit_event(actor=anna, action="x.again"), event])

    assert list(AuditEvent.objects.all()) == [event]


def test_no_events_cost_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert audit_record_many([]) == []
