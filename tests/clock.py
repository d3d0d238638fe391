"""The clock of a test run. `KRAG_TEST_NOW` (an ISO 8601 moment with its offset, e.g.
`2027-03-28T01:30:00+01:00`) moves the clock of the whole run there and lets it tick on from
that moment, so a test that only holds on some days fails on the day it is run for.

tests/conftest.py moves the pytest process at start; a subprocess the tests start (the broker
tests' Celery worker) moves itself through its settings, from the moment it is handed.
Tests that need one particular moment pin it themselves with time-machine's `time_machine`
fixture (`time_machine.move_to(...)`), which stacks on top of a moved run.
"""

import datetime
import os
import zoneinfo

import time_machine
from django.utils import timezone

VARIABLE = "KRAG_TEST_NOW"
WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")


def moved_to() -> datetime.datetime | None:
    """The moment KRAG_TEST_NOW names, or None when the run keeps the real clock."""
    value = os.environ.get(VARIABLE, "").strip()
    if not value:
        return None
    moment = datetime.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{VARIABLE}={value!r} needs its UTC offset, e.g. 2027-03-28T01:30+01:00")
    return moment


def move_from_environment() -> datetime.datetime | None:
    """Move this process's clock to KRAG_TEST_NOW, ticking on from there; None if unset."""
    moment = moved_to()
    if moment is not None:
        time_machine.travel(moment, tick=True).start()
    return moment


def for_subprocess() -> dict[str, str]:
    """The environment a subprocess needs to share this run's moved clock (empty if not moved):
    the current moved moment, so the child ticks on from where the parent is now."""
    if moved_to() is None:
        return {}
    return {VARIABLE: datetime.datetime.now(datetime.UTC).isoformat()}


def days_ahead_at(days: int, hour: int, minute: int = 0, tz=WARSAW) -> datetime.datetime:
    """That many days from today in `tz` (negative: ago), at that wall-clock time there.
    Unlike `now() + N days` it lands on the day meant even across a daylight-saving change
    and never just before midnight, whatever the hour the suite runs."""
    day = timezone.localdate(timezone=tz) + datetime.timedelta(days=days)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)
