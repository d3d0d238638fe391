"""Shared fixtures: two institutions and the personas of STYLE.md.

Institution A: ewa (admin), anna (facilitator), marek (staff), olga (auditor).
Institution B: karim (facilitator).
"""

import pytest

from clinics.models import StaffMembership

from . import clock
from .factories import (
    GroupFacilitatorFactory,
    GroupFactory,
    InstitutionFactory,
    MembershipFactory,
    RoomFactory,
    UserFactory,
)

Role = StaffMembership.Role


def pytest_configure(config):
    """KRAG_TEST_NOW moves the clock of the whole run (tests/clock.py)."""
    clock.move_from_environment()


def pytest_terminal_summary(terminalreporter):
    """Say, just above the summary line, which day the run was for when it was moved."""
    moment = clock.moved_to()
    if moment is not None:
        terminalreporter.write_line(f"clock moved: {clock.VARIABLE}={moment.isoformat()}")


def pytest_sessionstart(session):
    """The .mo files are generated, not committed: compile them before any test reads a
    catalogue, and forget catalogues Django may have cached without them."""
    from django.core.management import call_command
    from django.utils.translation import trans_real

    call_command("compile_translations", verbosity=0)
    trans_real._translations = {}
    trans_real._default = None


@pytest.fixture
def institution_a(db):
    return InstitutionFactory(name="Day Ward A")


@pytest.fixture
def institution_b(db):
    return InstitutionFactory(name="Counselling Centre B")


def _persona(username, institution, role, profession=StaffMembership.Profession.PSYCHOLOGIST):
    user = UserFactory(username=username, first_name=username.capitalize())
    MembershipFactory(user=user, institution=institution, role=role, profession=profession)
    return user


@pytest.fixture
def ewa(institution_a):
    return _persona("ewa", institution_a, Role.ADMIN, StaffMembership.Profession.ADMINISTRATIVE)


@pytest.fixture
def anna(institution_a):
    return _persona("anna", institution_a, Role.FACILITATOR)


@pytest.fixture
def marek(institution_a):
    return _persona("marek", institution_a, Role.STAFF, StaffMembership.Profession.SOCIAL_WORKER)


@pytest.fixture
def olga(institution_a):
    return _persona("olga", institution_a, Role.AUDITOR, StaffMembership.Profession.OTHER)


@pytest.fixture
def karim(institution_b):
    return _persona("karim", institution_b, Role.FACILITATOR)


@pytest.fixture
def room_a(institution_a):
    return RoomFactory(site__institution=institution_a, name="Room 1")


@pytest.fixture
def group_a(institution_a, anna):
    """An open group in A led by anna."""
    group = GroupFactory(institution=institution_a, name="Thursday depression group")
    GroupFacilitatorFactory(group=group, user=anna)
    return group


@pytest.fixture
def group_b(institution_b, karim):
    group = GroupFactory(institution=institution_b, name="B bereavement group")
    GroupFacilitatorFactory(group=group, user=karim)
    return group
