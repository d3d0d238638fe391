"""Searches: each parameter, the prefixes of dates, unknown parameters (lenient and strict),
bad values, and keyset pages whose cost does not grow with their size."""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent
from clinics.models import Participant
from sessions.models import Session
from tests.factories import AttendanceFactory, EnrollmentFactory, SessionFactory

from .conftest import entries, next_link

pytestmark = pytest.mark.django_db

TYPES = ("Organization", "Practitioner", "Group", "Patient", "Consent", "Appointment", "Encounter")


def ids(bundle) -> list[str]:
    return [resource["id"] for resource in entries(bundle)]


def walk(client, first: str) -> tuple[list[str], int]:
    """Every id of a search, following next links; and the number of pages."""
    found, pages, address = [], 0, first
    while address:
        bundle = client.read(address)
        found += ids(bundle)
        pages += 1
        address = next_link(bundle)
        assert pages < 100
    return found, pages


def test_following_next_links_returns_every_resource_once_in_each_type(fhir, anna, world_a):
    client = fhir(anna)
    for resource_type in TYPES:
        everything = ids(client.read(f"{resource_type}?_count=200"))
        assert everything, resource_type
        paged, pages = walk(client, f"{resource_type}?_count=2")
        assert paged == everything, resource_type
        assert pages == -(-len(everything) // 2), resource_type  # no empty last page


def test_encounter_pages_cross_from_sessions_to_attendance_without_a_gap(fhir, anna, world_a):
    client = fhir(anna)
    sessions = [str(s.pk) for s in (world_a.held, world_a.online, world_a.cancelled)]
    marks = [f"{r.session_id}-{r.participant_id}" for r in world_a.marks]
    for size in (1, 2, 3, 4, 5):
        paged, _pages = walk(client, f"Encounter?_count={size}")
        assert paged == sessions + marks, size


def test_links_carry_the_parameters_used_and_a_cursor(fhir, anna, world_a):
    bundle = fhir(anna).read(
        f"Appointment?group=Group/{world_a.group.pk}&_count=1&unknown=1&_pretty=true"
    )
    assert bundle["type"] == "searchset"
    assert "total" not in bundle  # no COUNT: a page costs what the first does
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    self_query = parse_qs(urlparse(links["self"]).query)
    assert self_query == {"group": [f"Group/{world_a.group.pk}"], "_count": ["1"]}
    next_query = parse_qs(urlparse(links["next"]).query)
    assert next_query["_cursor"] == [bundle["entry"][0]["resource"]["id"]]
    assert urlparse(links["next"]).path == "/fhir/r4/Appointment"
    assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/r4/Appointment/{world_a.held.pk}")


def test_an_unknown_parameter_is_ignored_leniently_and_refused_under_strict_handling(
    fhir, anna, world_a
):
    client = fhir(anna)
    assert ids(client.read("Group?colour=blue")) == ids(client.read("Group"))
    refused = client.read("Group?colour=blue", status=400, HTTP_PREFER="handling=strict")
    assert refused["issue"][0]["code"] == "not-supported"
    assert "colour" in refused["issue"][0]["diagnostics"]
    assert ids(client.read("Group?colour=blue", HTTP_PREFER="handling=lenient"))
    # A parameter of another resource type is unknown here too.
    client.read("Practitioner?_lastUpdated=gt2020", status=400, HTTP_PREFER="handling=strict")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Patient?_lastUpdated=ne2020-01-01", "not-supported"),  # prefix
        ("Patient?_lastUpdated=2020-13-01", "invalid"),
        ("Patient?_lastUpdated=yesterday", "invalid"),
        ("Patient?identifier:exact=P-00001", "not-supported"),  # modifier
        ("Patient?_count=0", "invalid"),
        ("Patient?_count=ten", "invalid"),
        ("Patient?_cursor=x;drop", "invalid"),
        ("Encounter?_cursor=z5", "invalid"),
        ("Patient?_format=xml", "not-supported"),
        ("Patient?identifier=", "invalid"),
    ],
)
def test_a_bad_search_value_is_refused_with_an_operation_outcome(fhir, anna, world_a, query, code):
    status = 406 if "_format" in query else 400
    body = fhir(anna).read(query, status=status)
    assert body["issue"][0]["code"] == code


def test_a_count_above_the_maximum_returns_the_maximum(fhir, anna, world_a):
    bundle = fhir(anna).read("Patient?_count=5000")
    assert parse_qs(urlparse(bundle["link"][0]["url"]).query)["_count"] == ["200"]


def _set_updated(model, pk, when):
    model.objects.filter(pk=pk).update(updated_at=when)


def test_last_updated_takes_gt_lt_ge_le_and_eq_by_the_values_precision(fhir, anna, world_a):
    moment = datetime.datetime(2026, 3, 10, 12, 30, 15, 250000, tzinfo=datetime.UTC)
    Participant.objects.filter(institution=world_a.institution).update(
        updated_at=moment - datetime.timedelta(days=30)
    )
    _set_updated(Participant, world_a.named.pk, moment)
    named, client = str(world_a.named.pk), fhir(anna)
    stamp = client.read(f"Patient/{named}")["meta"]["lastUpdated"]
    assert stamp == "2026-03-10T12:30:15.250Z"

    def found(value):
        return ids(client.read(f"Patient?_lastUpdated={value}"))

    assert found(stamp) == [named]
    assert found(f"gt{stamp}") == []  # what a client read last is not returned again
    assert found(f"ge{stamp}") == [named]
    assert named not in found(f"lt{stamp}")
    assert named in found(f"le{stamp}")
    assert found("2026-03-10") == [named]  # a whole day (in the server's zone)
    assert found("2026-03") == [named]
    assert named not in found("2026-02")
    # 14:30:15 at +02:00 is 12:30:15 UTC: "after that second" starts at the next one.
    assert found("gt2026-03-10T14:30:15%2B02:00") == []
    assert found("gt2026-03-10T13:30:15%2B02:00") == [named]
    assert found("ge2026-03-10T14:30:15%2B02:00") == [named]
    assert (
        len(found("lt2026-03-01"))
        == Participant.objects.filter(institution=world_a.institution).count() - 1
    )
    # Two occurrences are ANDed; comma-separated values are ORed.
    assert found("gt2026-03-01&_lastUpdated=lt2026-04-01") == [named]
    assert set(found("2026-03-10,2026-02")) >= {named}


def test_each_search_parameter_finds_what_it_names(fhir, anna, world_a):
    client = fhir(anna)
    group = f"Group/{world_a.group.pk}"
    named, alias_only = world_a.named, world_a.alias_only
    held = world_a.held

    def found(query):
        return set(ids(client.read(query)))

    assert found(f"Patient?_id={named.pk},{alias_only.pk}") == {str(named.pk), str(alias_only.pk)}
    assert found(f"Patient?identifier={named.code}") == {str(named.pk)}
    system = client.read(f"Patient/{named.pk}")["identifier"][0]["system"]
    assert found(f"Patient?identifier={system}|{named.code}") == {str(named.pk)}
    assert found(f"Patient?identifier=urn:other|{named.code}") == set()
    assert found(f"Group?member=Patient/{world_a.former.pk}") == {str(world_a.group.pk)}
    assert found(f"Group?member={world_a.outsider.pk}") == set()

    assert found(f"Consent?patient={named.pk}") == {str(c.pk) for c in world_a.consents[:3]}
    assert found("Consent?status=inactive") == {str(world_a.consents[3].pk)}
    assert found(f"Consent?status=active&patient=Patient/{alias_only.pk}") == set()
    granted = timezone.localtime(world_a.consents[0].granted_at).date()  # the server's zone
    assert found(f"Consent?date={granted.isoformat()}") == {str(c.pk) for c in world_a.consents}
    assert found(f"Consent?date=lt{granted.isoformat()}") == set()

    assert found(f"Appointment?group={group}") == {
        str(s.pk) for s in (held, world_a.online, world_a.cancelled, world_a.later)
    }
    assert found(f"Appointment?supporting-info={group}") == found(f"Appointment?group={group}")
    assert found("Appointment?status=booked") == {str(world_a.later.pk)}
    assert found("Appointment?status=cancelled,fulfilled") == {
        str(s.pk) for s in (held, world_a.online, world_a.cancelled)
    }
    assert found(f"Appointment?date=ge{timezone.localdate().isoformat()}") == {
        str(world_a.later.pk)
    }
    # The member who left five days ago was expected a week ago, not next week.
    assert str(held.pk) in found(f"Appointment?patient={world_a.former.pk}")
    assert str(world_a.later.pk) not in found(f"Appointment?patient={world_a.former.pk}")
    assert str(world_a.later.pk) in found(f"Appointment?patient={named.pk}")

    member = f"{held.pk}-{named.pk}"
    assert found(f"Encounter?_id={held.pk},{member}") == {str(held.pk), member}
    assert found(f"Encounter?patient=Patient/{named.pk}") == {
        member,
        f"{world_a.online.pk}-{named.pk}",
    }
    assert found(f"Encounter?subject={group}") == {
        str(s.pk) for s in (held, world_a.online, world_a.cancelled)
    }
    assert found(f"Encounter?subject=Patient/{alias_only.pk}") == {f"{held.pk}-{alias_only.pk}"}
    assert found(f"Encounter?group={group}") == found(f"Encounter?subject={group}") | {
        f"{r.session_id}-{r.participant_id}" for r in world_a.marks
    }
    assert found(f"Encounter?part-of=Encounter/{held.pk}") == {
        member,
        f"{held.pk}-{alias_only.pk}",
    }
    assert found(f"Encounter?status=cancelled&part-of={held.pk}") == {f"{held.pk}-{alias_only.pk}"}
    assert found("Encounter?status=cancelled&subject=" + group) == {str(world_a.cancelled.pk)}
    day = world_a.online.starts_at.astimezone(timezone.get_current_timezone()).date()
    assert found(f"Encounter?date={day.isoformat()}") == {
        str(world_a.online.pk),
        f"{world_a.online.pk}-{named.pk}",
    }
    assert found("Organization?_id=abc") == set()


def test_include_group_member_adds_the_members_patients_named_and_audited_as_patients(
    fhir, anna, olga, world_a
):
    from audit.models import AuditEvent

    before = AuditEvent.objects.count()
    bundle = fhir(anna).read(f"Group?_id={world_a.group.pk}&_include=Group:member")
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]]
    assert modes[0] == ("Group", "match")
    included = {e["resource"]["id"]: e["resource"] for e in bundle["entry"][1:]}
    assert set(included) == {str(p.pk) for p in (world_a.named, world_a.alias_only, world_a.former)}
    assert {"use": "official", "text": "Janina Kowalska"} in included[str(world_a.named.pk)]["name"]
    assert {e["search"]["mode"] for e in bundle["entry"][1:]} == {"include"}
    (event,) = AuditEvent.objects.filter(pk__gt=before)  # nothing for the group itself
    assert event.action == "participant.listed"
    assert set(event.details["ids"]) == {int(i) for i in included}
    assert "_include=Group%3Amember" in bundle["link"][0]["url"]
    # An auditor's page includes no one; another _include is ignored, or refused when strict.
    assert len(fhir(olga).read("Group?_include=Group:member")["entry"]) == 1
    assert len(fhir(anna).read("Group?_include=Group:managing-entity")["entry"]) == 1
    fhir(anna).read(
        "Group?_include=Group:managing-entity", status=400, HTTP_PREFER="handling=strict"
    )


@pytest.fixture
def big_world(world_a, anna):
    """Enough rows that a page of 2 and a page of 20 both fill up in every type."""
    now = timezone.now()
    members = [EnrollmentFactory(group=world_a.group, created_by=anna) for _ in range(20)]
    for index in range(1, 18):
        session = SessionFactory(
            group=world_a.group,
            sequence=10 + index,
            starts_at=now - datetime.timedelta(days=10 + index),
            status=Session.Status.HELD,
        )
        for enrollment in members[:4]:
            AttendanceFactory(
                session=session,
                enrollment=enrollment,
                participant=enrollment.participant,
                recorded_by=anna,
                status=AttendanceRecord.Status.PRESENT,
            )
    for enrollment in members:
        Consent.objects.create(
            institution=world_a.institution,
            participant=enrollment.participant,
            purpose=Consent.Purpose.HEALTH_DATA,
            method=Consent.Method.VERBAL,
            text_version="v2",
            recorded_by=anna,
        )
    for index in range(20):
        from tests.factories import GroupFactory

        GroupFactory(institution=world_a.institution, name=f"Group {index}")
    return world_a


# The most queries a page may take, whatever its size: the sign-in and memberships, the page's
# rows (one query per table), what its resources share (facilitators, members, names, consents)
# and the audit event.
MAX_QUERIES = {
    "Organization": 3,
    "Practitioner": 4,
    "Group": 4,
    "Patient": 6,
    "Consent": 4,
    "Appointment": 5,
    "Encounter": 7,
}


@pytest.mark.parametrize("resource_type", TYPES)
def test_a_pages_queries_do_not_grow_with_its_size(
    fhir, ewa, anna, big_world, resource_type, django_assert_max_num_queries
):
    for reader in (ewa, anna):
        client = fhir(reader)
        for size in (2, 20):
            with django_assert_max_num_queries(MAX_QUERIES[resource_type]):
                bundle = client.read(f"{resource_type}?_count={size}")
            if resource_type not in ("Organization", "Practitioner"):
                assert len(entries(bundle)) == size
            if resource_type == "Group":
                with django_assert_max_num_queries(MAX_QUERIES["Group"] + 5):
                    client.read(f"Group?_count={size}&_include=Group:member")
            deeper = next_link(bundle)
            if deeper:
                with django_assert_max_num_queries(MAX_QUERIES[resource_type]):
                    client.read(deeper)
