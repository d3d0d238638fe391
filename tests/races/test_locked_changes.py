"""Services change a row under its lock (clinics.locking): a change read outside the lock is
never written back over a concurrent one. Real threads on PostgreSQL, repeated."""

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

from clinics.locking import lock_for_change
from sessions.models import Session
from sessions.services import session_cancel, session_reschedule, session_update
from tests.factories import SessionFactory

ROUNDS = 10


def _race(*calls):
    """Run the calls at once, each in its own connection; return what each raised (or None)."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            with translation.override("en"):
                call()
        except ValidationError as exc:
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers whole)")


@pytest.mark.django_db(transaction=True)
def test_a_reschedule_racing_a_cancellation_never_writes_scheduled_over_cancelled(
    postgres_only, group_a, anna
):
    for round_ in range(ROUNDS):
        start = timezone.now() + datetime.timedelta(days=3 + round_)
        session = SessionFactory(group=group_a, starts_at=start)
        # Both callers read the session before the race, as a view does.
        for_cancel, for_move = (Session.objects.get(pk=session.pk) for _ in range(2))

        outcomes = _race(
            lambda s=for_cancel: session_cancel(session=s, by=anna, reason="Facilitator ill"),
            lambda s=for_move, t=start + datetime.timedelta(hours=2): session_reschedule(
                session=s, by=anna, starts_at=t
            ),
        )

        session.refresh_from_db()
        cancelled_ok, moved_ok = outcomes[0] is None, outcomes[1] is None
        assert cancelled_ok, outcomes  # cancelling a scheduled (or just moved) session holds
        assert session.status == Session.Status.CANCELLED
        if not moved_ok:  # the move came second and found the session cancelled
            assert outcomes[1].messages == ["Only a scheduled session can be moved."]


@pytest.mark.django_db(transaction=True)
def test_two_theme_changes_with_one_precondition_let_exactly_one_through(
    postgres_only, group_a, anna
):
    for round_ in range(ROUNDS):
        session = SessionFactory(
            group=group_a, starts_at=timezone.now() + datetime.timedelta(days=3 + round_)
        )
        seen = Session.objects.get(pk=session.pk).updated_at

        def unchanged_since_read(locked, seen=seen):
            if locked.updated_at != seen:
                raise ValidationError("changed meanwhile")

        copies = {theme: Session.objects.get(pk=session.pk) for theme in ("Grief", "Hope")}
        outcomes = _race(
            *(
                lambda theme=theme, copy=copy: session_update(
                    session=copy, by=anna, theme=theme, precondition=unchanged_since_read
                )
                for theme, copy in copies.items()
            )
        )

        assert sorted(o is None for o in outcomes) == [False, True], outcomes


@pytest.mark.django_db
def test_a_precondition_that_refuses_changes_nothing(group_a, anna):
    session = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=3))

    def refuse(locked):
        raise ValidationError("stale")

    with pytest.raises(ValidationError):
        session_update(session=session, by=anna, theme="Changed", precondition=refuse)
    session.refresh_from_db()
    assert session.theme != "Changed"
    assert lock_for_change(session).pk == session.pk
