"""The security tests read messages in English (the site's default language is Polish)."""

import pytest
from django.conf import settings
from django.utils import translation


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# The API's world (two institutions with groups, sessions, people and records) for the mass
# assignment tests.
from tests.api.conftest import api, world_a, world_b  # noqa: E402, F401

# The reports' world (six named members of group_a over October 2026) for the erasure tests.
from tests.reports.conftest import make_report, world  # noqa: E402, F401
