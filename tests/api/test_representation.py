"""The API's ModelSerializer writes rows out exactly as DRF's own does, only cheaper
(api/serializers/common.py): compared here for every resource on the demo data."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from api.serializers import attendance, audit, clinics, reports, sessions  # noqa: F401
from api.serializers.common import ModelSerializer
from imports.models import ImportJob
from reports.models import ReportRun
from sessions.models import NoteAddendum, SessionNote


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


SERIALIZERS = sorted(set(_all_subclasses(ModelSerializer)), key=lambda c: c.__name__)


@pytest.fixture
def demo_ewa(db):
    call_command("seed_demo", "--password", "demo-password", verbosity=0)
    ewa = get_user_model().objects.get(username="ewa")
    # The demo has no report run and no addendum.
    note = SessionNote.objects.filter(signed_at__isnull=False).first()
    NoteAddendum.objects.create(note=note, author=note.author, text="Later: she called back.")
    ReportRun.objects.create(
        institution=ewa.memberships.get().institution,
        type=ReportRun.Type.ACTIVITY_SUMMARY,
        language="pl",
        requested_by=ewa,
        parameters={"date_from": "2026-07-01", "date_to": "2026-09-30"},
        started_at=timezone.now(),
    )
    ImportJob.objects.create(
        institution=ewa.memberships.get().institution,
        kind=ImportJob.Kind.PARTICIPANTS,
        status=ImportJob.Status.INVALID,
        filename="lista.csv",
        format="csv",
        sha256="0" * 64,
        size=120,
        rows=2,
        problems=[{"row": 2, "column": "alias", "code": "required", "message": "…"}],
        problem_count=1,
        created_by=ewa,
        finished_at=timezone.now(),
    )
    return ewa


def test_every_resource_serializer_takes_the_cheap_path():
    assert len(SERIALIZERS) >= 15
    names = {c.__name__ for c in SERIALIZERS}
    assert {"ParticipantSerializer", "AttendanceRecordSerializer", "SessionSerializer"} <= names


def test_the_cheap_path_writes_what_drf_writes(demo_ewa):
    # One test over every serializer and three time zones: the demo data takes seconds to make.
    request = APIRequestFactory().get("/")
    request.user = demo_ewa
    differ = []
    for serializer_class in SERIALIZERS:
        rows = list(serializer_class.Meta.model.objects.all()[:40])
        assert rows, f"the demo data has no {serializer_class.Meta.model.__name__}"
        for zone in ("UTC", "Europe/Warsaw", "Asia/Riyadh"):
            with timezone.override(zone):
                cheap = serializer_class(rows, many=True, context={"request": request}).data
                drf = [
                    serializers.ModelSerializer.to_representation(
                        serializer_class(context={"request": request}), row
                    )
                    for row in rows
                ]
            if [dict(r) for r in cheap] != drf:
                differ.append((serializer_class.__name__, zone))
    assert not differ
