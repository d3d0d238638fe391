"""Who may do what is one table (STYLE.md 14): every API operation (method, path) with the
personas allowed, walked by every persona of institution A — anna (lead of the group), piotr as
its observer and as its trainee, marek (staff), olga (auditor), ewa (admin). A persona not
allowed gets 403 or 404; an allowed one passes the permission check (its answer may still be a
400 for the empty body). An endpoint without a row fails the walk."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from attendance.models import ConsentText
from audit.models import AuditEvent
from imports.models import ImportJob
from reports.models import ReportRun
from tests.factories import GroupFacilitatorFactory, MembershipFactory, UserFactory

ALL = {"anna", "piotr_observer", "piotr_trainee", "marek", "olga", "ewa"}
CLINICAL = ALL - {"olga"}
PLANNERS = {"anna", "piotr_observer", "piotr_trainee", "ewa"}
NOTE_WRITERS = {"anna", "piotr_trainee"}  # the group's lead and trainee; an observer: none
ADMIN = {"ewa"}
# Operations that take no signed-in user's role (sign-in, the public calendar feed, the docs).
PUBLIC = "public"

ROLE_MATRIX = [
    ("post", "auth/token/", PUBLIC),
    ("post", "auth/logout/", PUBLIC),  # revokes the token it is called with, whoever it is
    ("get", "", ALL),
    ("get", "schema/", PUBLIC),
    ("get", "docs/", PUBLIC),
    ("get", "me/", ALL),
    ("get", "me/calendar/", PUBLIC),  # one's own address: 404 until one is made
    ("post", "me/calendar/", ALL),
    ("delete", "me/calendar/", ALL),
    ("get", "calendar/{secret}.ics", PUBLIC),
    ("get", "institutions/", ALL),
    ("get", "institutions/{id}/", ALL),
    ("get", "sites/", ALL),
    ("get", "sites/{id}/", ALL),
    ("get", "rooms/", ALL),
    ("get", "rooms/{id}/", ALL),
    ("get", "participants/", CLINICAL),
    ("post", "participants/", CLINICAL),
    ("get", "participants/{id}/", CLINICAL),
    ("put", "participants/{id}/", CLINICAL),
    ("patch", "participants/{id}/", CLINICAL),
    ("get", "participants/{id}/export/", ADMIN),
    ("post", "participants/{id}/erase/", ADMIN),
    ("get", "groups/", ALL),
    ("post", "groups/", PLANNERS),
    ("get", "groups/{id}/", ALL),
    ("put", "groups/{id}/", PLANNERS),
    ("patch", "groups/{id}/", PLANNERS),
    ("post", "groups/{id}/facilitators/", PLANNERS),
    ("post", "groups/{id}/remove-facilitator/", PLANNERS),
    ("post", "groups/{id}/schedule/", PLANNERS),
    ("get", "sessions/", ALL),
    ("post", "sessions/", PLANNERS),
    ("get", "sessions/{id}/", ALL),
    ("put", "sessions/{id}/", PLANNERS),
    ("patch", "sessions/{id}/", PLANNERS),
    ("get", "sessions/{id}/attendance/", CLINICAL),
    ("put", "sessions/{id}/attendance/", CLINICAL),
    ("post", "sessions/{id}/cancel/", PLANNERS),
    ("post", "sessions/{id}/not-held/", PLANNERS),
    ("post", "sessions/{id}/reverse-not-held/", PLANNERS),
    ("get", "notes/", CLINICAL),
    ("post", "notes/", NOTE_WRITERS),
    ("get", "notes/awaiting-cosignature/", CLINICAL),
    ("get", "notes/{id}/", NOTE_WRITERS),
    ("put", "notes/{id}/", NOTE_WRITERS),
    ("patch", "notes/{id}/", NOTE_WRITERS),
    ("post", "notes/{id}/addenda/", NOTE_WRITERS),
    ("post", "notes/{id}/cosign/", NOTE_WRITERS),
    ("post", "notes/{id}/sign/", NOTE_WRITERS),
    ("get", "enrollments/", CLINICAL),
    ("post", "enrollments/", CLINICAL),
    ("get", "enrollments/{id}/", CLINICAL),
    ("post", "enrollments/{id}/admit/", CLINICAL),
    ("post", "enrollments/{id}/complete/", CLINICAL),
    ("post", "enrollments/{id}/waitlist/", CLINICAL),
    ("post", "enrollments/{id}/withdraw/", CLINICAL),
    ("get", "consents/", CLINICAL),
    ("post", "consents/", CLINICAL),
    ("get", "consents/{id}/", CLINICAL),
    ("post", "consents/{id}/withdraw/", CLINICAL),
    ("get", "consent-texts/", CLINICAL),
    ("get", "consent-texts/{id}/", CLINICAL),
    ("get", "attendance/", CLINICAL),
    ("get", "attendance/{id}/", CLINICAL),
    ("put", "attendance/{id}/", CLINICAL),
    ("patch", "attendance/{id}/", CLINICAL),
    ("get", "reports/", ALL),
    ("post", "reports/", ALL),
    ("get", "reports/{id}/", ADMIN),
    ("get", "reports/{id}/download/", ADMIN),
    ("get", "audit-events/", ADMIN),
    ("get", "audit-events/export/", ADMIN),
    ("get", "audit-events/{id}/", ADMIN),
    # Spreadsheets: institution admins import; those who work with records export.
    ("get", "imports/", ADMIN),
    ("post", "imports/", ADMIN),
    ("get", "imports/{id}/", ADMIN),
    ("post", "imports/{id}/apply/", ADMIN),
    ("get", "imports/export/participants/", CLINICAL),
    ("get", "imports/export/register/", CLINICAL),
]


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _normalise(route: str) -> str:
    for raw in ("(?P<pk>[^/.]+)", "(?P<pk>[0-9]+)", "<int:pk>"):
        route = route.replace(raw, "{id}")
    route = route.removeprefix("api/v1/").replace("^", "").replace("$", "")
    return route.replace("<str:secret>", "{secret}")


def api_operations() -> set[tuple[str, str]]:
    """Every (method, path) the API answers, read from its URL configuration."""
    operations = set()
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or "format" in route:
            continue
        actions = getattr(callback, "actions", None)
        if actions:
            methods = set(actions) - {"head", "options"}
        else:
            view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            methods = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
        operations |= {(method, _normalise(route)) for method in methods}
    return operations


def test_every_api_operation_has_a_row_in_the_role_matrix():
    rows = {(method, path) for method, path, _who in ROLE_MATRIX}
    assert len(rows) == len(ROLE_MATRIX), "a row appears twice"
    assert api_operations() - rows == set(), "give each new endpoint its row in ROLE_MATRIX"
    assert rows - api_operations() == set(), "a row names an endpoint that no longer exists"


@pytest.fixture
def personas(anna, marek, olga, ewa, institution_a, group_a):
    def piotr(role):
        user = UserFactory(username=f"piotr-{role}")
        MembershipFactory(user=user, institution=institution_a, role="facilitator")
        GroupFacilitatorFactory(group=group_a, user=user, role=role)
        return user

    return {
        "anna": anna,
        "piotr_observer": piotr("observer"),
        "piotr_trainee": piotr("trainee"),
        "marek": marek,
        "olga": olga,
        "ewa": ewa,
    }


def _objects(world, ewa):
    text = ConsentText.objects.create(
        institution=world.institution,
        purpose="participation",
        language="pl",
        version="1",
        body="Zgoda",
        valid_from=timezone.localdate(),
        created_by=ewa,
    )
    report = ReportRun.objects.create(
        institution=world.institution,
        type=ReportRun.Type.GROUP_REGISTER,
        language="en",
        parameters={"group": world.group.pk},
        requested_by=ewa,
    )
    event = AuditEvent.objects.filter(
        institution=world.institution
    ).first() or AuditEvent.objects.create(
        institution=world.institution, action="test.event", actor=ewa
    )
    job = ImportJob.objects.create(
        institution=world.institution,
        kind=ImportJob.Kind.PARTICIPANTS,
        status=ImportJob.Status.INVALID,
        filename="people.csv",
        format=ImportJob.Format.CSV,
        sha256="0" * 64,
        size=10,
        created_by=ewa,
    )
    return {
        "imports": job,
        "institutions": world.institution,
        "sites": world.site,
        "rooms": world.room,
        "participants": world.first,
        "groups": world.group,
        "sessions": world.session,
        "notes": world.note,
        "enrollments": world.enrollment,
        "consents": world.consent,
        "consent-texts": text,
        "attendance": world.record,
        "reports": report,
        "audit-events": event,
    }


def _body(method, path, world, personas):
    """A body that passes validation, so that the permission is what decides."""
    today = timezone.localdate()
    soon = timezone.now() + datetime.timedelta(days=3)
    link = "https://meet.example.org/room"
    session_fields = {
        "group": world.group.pk,
        "starts_at": soon.isoformat(),
        "ends_at": (soon + datetime.timedelta(hours=1)).isoformat(),
        "online_link": link,
    }
    bodies = {
        ("post", "participants/"): {"alias": "Newcomer", "institution": world.institution.pk},
        ("post", "participants/{id}/erase/"): {"reason": "The person's request"},
        ("post", "groups/"): {
            "institution": world.institution.pk,
            "name": "New group",
            "category": "depression",
            "starts_on": today.isoformat(),
        },
        ("put", "groups/{id}/"): {
            "institution": world.institution.pk,
            "name": world.group.name,
            "category": world.group.category,
            "starts_on": world.group.starts_on.isoformat(),
        },
        ("patch", "groups/{id}/"): {"description": "Tuesdays"},
        ("post", "groups/{id}/facilitators/"): {"user": personas["anna"].pk, "role": "lead"},
        ("post", "groups/{id}/remove-facilitator/"): {"user": personas["piotr_observer"].pk},
        ("post", "groups/{id}/schedule/"): {
            "weekdays": [soon.weekday()],
            "start_time": "18:00",
            "duration_minutes": 60,
            "starts_on": (today + datetime.timedelta(days=20)).isoformat(),
            "count": 1,
            "online_link": link,
        },
        ("post", "sessions/"): session_fields,
        ("put", "sessions/{id}/"): session_fields,
        ("patch", "sessions/{id}/"): {"theme": "Sleep"},
        ("post", "sessions/{id}/cancel/"): {"reason": "The facilitator is ill"},
        ("post", "notes/"): {"session": world.session.pk, "kind": "private", "text": "Mine"},
        ("patch", "notes/{id}/"): {"text": "Edited"},
        ("post", "enrollments/"): {"participant": world.outsider.pk, "group": world.group.pk},
        ("post", "imports/"): {
            "kind": "participants",
            "file": SimpleUploadedFile("people.csv", b"alias,code\nNewcomer,\n", "text/csv"),
        },
        ("get", "imports/export/register/"): {
            "group": world.group.pk,
            "start": (today - datetime.timedelta(days=30)).isoformat(),
            "end": today.isoformat(),
        },
        ("post", "consents/"): {
            "participant": world.outsider.pk,
            "purpose": "contact",
            "method": "verbal",
            "text_version": "1",
        },
    }
    return bodies.get((method, path), {})


WALKED = [row for row in ROLE_MATRIX if row[2] != PUBLIC]


@pytest.mark.parametrize("persona", sorted(ALL))
@pytest.mark.parametrize(
    ("method", "path", "allowed"), WALKED, ids=[f"{m} {p}" for m, p, _a in WALKED]
)
def test_each_persona_is_allowed_or_refused_as_the_matrix_says(
    api, personas, world_a, ewa, persona, method, path, allowed
):
    objects = _objects(world_a, ewa)
    url = "/api/v1/" + path
    if "{id}" in path:
        url = url.replace("{id}", str(objects[path.split("/")[0]].pk))
    body = _body(method, path, world_a, personas)
    # Uploads are multipart (the imports take a file); everything else is JSON.
    upload = method == "post" and path.startswith("imports/")
    response = getattr(api(personas[persona]), method)(
        url, body, format="multipart" if upload else "json"
    )

    content = b"" if response.streaming else response.content[:300]
    answer = (persona, method, path, response.status_code, content)
    assert response.status_code not in (401, 405, 500), answer
    if persona in allowed:
        assert response.status_code not in (403, 404), answer
    elif method == "get" and "{id}" not in path and response.status_code == 200:
        # A list outside one's role is empty: nothing of it exists for them.
        if response.streaming:  # a CSV export: its header line only
            rows = b"".join(response.streaming_content).decode().strip().splitlines()
            assert len(rows) <= 1, answer
        else:
            assert not response.json().get("results"), answer
    elif response.status_code == 400:
        # The institution named is not one where their role may create this: it does not
        # exist for them, as another institution's.
        errors = response.json()
        assert "institution" in errors.get("fields", errors), answer
    else:
        assert response.status_code in (403, 404), answer
