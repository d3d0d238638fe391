"""`?mine=true` and `?facilitator=` find the sessions of the groups a user leads in any role
and those they stand in at as the substitute — each once, and only in the user's institutions
(they are read by the user's group ids as literals, sessions.querysets.groups_led_by)."""

import datetime

from django.utils import timezone

from clinics.models import StaffMembership
from sessions.models import GroupFacilitator
from tests.factories import (
    GroupFacilitatorFactory,
    GroupFactory,
    MembershipFactory,
    SessionFactory,
    UserFactory,
)


def ids(response):
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


def test_mine_and_a_facilitators_sessions_are_led_co_led_and_substituted_ones_once(
    api, anna, karim, world_a, world_b
):
    piotr = UserFactory(username="piotr")
    MembershipFactory(
        user=piotr, institution=world_a.institution, role=StaffMembership.Role.FACILITATOR
    )
    start = timezone.now() + datetime.timedelta(days=40)
    co_led = GroupFactory(institution=world_a.institution)
    GroupFacilitatorFactory(group=co_led, user=piotr, role=GroupFacilitator.Role.LEAD)
    GroupFacilitatorFactory(group=co_led, user=anna, role=GroupFacilitator.Role.CO_FACILITATOR)
    other = GroupFactory(institution=world_a.institution)
    GroupFacilitatorFactory(group=other, user=piotr)
    led = SessionFactory(group=world_a.group, sequence=70, starts_at=start)
    helped = SessionFactory(group=co_led, sequence=1, starts_at=start)
    standing_in = SessionFactory(
        group=other, sequence=1, starts_at=start, substitute_facilitator=anna
    )
    not_hers = SessionFactory(group=other, sequence=2, starts_at=start + datetime.timedelta(1))
    window = {"starts_after": start.isoformat(), "page_size": 100}
    expected = sorted([led.pk, helped.pk, standing_in.pk])

    client = api(anna)
    assert ids(client.get("/api/v1/sessions/", {"mine": "true", **window})) == expected
    by_id = client.get("/api/v1/sessions/", {"facilitator": anna.pk, **window})
    assert ids(by_id) == expected and by_id.json()["count"] == 3
    piotrs = ids(client.get("/api/v1/sessions/", {"facilitator": piotr.pk, **window}))
    assert piotrs == sorted([helped.pk, standing_in.pk, not_hers.pk])
    # karim leads groups in B only: anna asking for his sessions sees none of them.
    assert ids(client.get("/api/v1/sessions/", {"facilitator": karim.pk})) == []
    groups = client.get("/api/v1/groups/", {"facilitator": anna.pk}).json()
    assert sorted(g["id"] for g in groups["results"]) == sorted([world_a.group.pk, co_led.pk])
