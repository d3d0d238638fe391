"""karim (institution B) walks every staff UI address that names an object, with the ids of
institution A's objects: each answers exactly as for an object that does not exist (404), for
reading and for writing. The walk covers every such address the staff UI has: a new one fails
this test until it is given an object of A here."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from attendance.models import FollowUpTask
from imports.models import ImportJob
from reports.models import ReportRun

MISSING = 987654
# Addresses with an id, by their first path segment: which of A's objects `pk` names.
PK_BY_PREFIX = {
    "sessions": "session",
    "groups": "group",
    "participants": "first",
    "reports": "report",
    "follow-ups": "follow_up",
    "notes": "note",
    "imports": "import_job",
}
OTHER_PARAMETERS = {"enrollment": "enrollment", "consent": "consent"}
VERBS = {"verb": "admit"}
# Addresses whose parameters name no object: a signed one-time token.
NOT_OBJECT_PAGES = {"staff:password_reset_confirm"}


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.pattern.converters and pattern.name:
            yield (
                f"{namespace}{pattern.name}",
                str(pattern.pattern),
                list(pattern.pattern.converters),
            )


def staff_addresses():
    """Every named address of the web UI (not the API, the admin or public pages) with ids."""
    return [
        (name, route, params)
        for name, route, params in _walk(get_resolver().url_patterns)
        if name.split(":")[0] in {"staff", "audit", "security"} and name not in NOT_OBJECT_PAGES
    ]


@pytest.fixture
def objects_a(world_a, ewa, anna):
    world_a.follow_up = FollowUpTask.objects.create(
        institution=world_a.institution,
        enrollment=world_a.enrollment,
        trigger_session=world_a.session,
        assigned_to=anna,
    )
    world_a.report = ReportRun.objects.create(
        institution=world_a.institution,
        type=ReportRun.Type.GROUP_REGISTER,
        language="en",
        parameters={"group": world_a.group.pk},
        requested_by=ewa,
    )
    world_a.import_job = ImportJob.objects.create(
        institution=world_a.institution,
        kind=ImportJob.Kind.PARTICIPANTS,
        status=ImportJob.Status.PREVIEW,
        filename="list.csv",
        format="csv",
        sha256="0" * 64,
        size=1,
        rows=1,
        created_by=ewa,
    )
    return world_a


def kwargs_for(route, params, world, missing=False):
    kwargs = {}
    for name in params:
        if name == "pk":
            obj = getattr(world, PK_BY_PREFIX[route.split("/")[0]])
            kwargs[name] = MISSING if missing else obj.pk
        elif name in OTHER_PARAMETERS:
            kwargs[name] = MISSING if missing else getattr(world, OTHER_PARAMETERS[name]).pk
        elif name in VERBS:
            kwargs[name] = VERBS[name]
        else:
            raise AssertionError(f"{route}: give the test an object of A for <{name}>")
    return kwargs


def form_data(world) -> dict:
    """What the forms of these pages post, naming A's objects where a form names one."""
    return {"status": "present", "text": "x", "reason": "x", "note": world.note.pk}


def test_the_walk_finds_the_staff_uis_object_pages():
    names = {name for name, _route, _params in staff_addresses()}
    assert {"staff:session", "staff:group", "staff:participant"} <= names


@pytest.mark.parametrize(
    ("name", "route", "params"), staff_addresses(), ids=[a[0] for a in staff_addresses()]
)
def test_karim_gets_404_for_every_staff_page_of_institution_a(
    client, karim, anna, ewa, objects_a, name, route, params
):
    theirs = reverse(name, kwargs=kwargs_for(route, params, objects_a))
    missing = reverse(name, kwargs=kwargs_for(route, params, objects_a, missing=True))
    client.force_login(karim)
    answers = {}
    for method in ("get", "post"):
        got = getattr(client, method)(theirs, form_data(objects_a))
        expected = getattr(client, method)(missing, form_data(objects_a))
        assert got.status_code == expected.status_code, (method, theirs)
        answers[method] = got.status_code
    assert 404 in answers.values(), answers
    assert all(code in (404, 405) for code in answers.values()), answers

    # The same address works for someone of A: the walk is not testing missing ids only.
    for user in (anna, ewa):
        client.force_login(user)
        got = client.get(theirs).status_code, client.post(theirs, form_data(objects_a)).status_code
        if set(got) - {404, 405}:
            break
    else:
        pytest.fail(f"{theirs} is a 404 for A's own staff too")
