"""Each API token has its own request rate; past it, 429 with Retry-After."""

from __future__ import annotations

import pytest

from sipplatform.dialplans.models import Dialplan

URL = "/api/v1/dialplans/"


@pytest.fixture
def three_per_minute(settings) -> None:
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {"DEFAULT_THROTTLE_RATES": {"api": "3/min"}}


def test_fourth_request_in_a_minute_is_throttled(three_per_minute, client_a):
    codes = [client_a.get(URL).status_code for _ in range(4)]

    throttled = client_a.get(URL)
    assert codes == [200, 200, 200, 429]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60


def test_rate_is_counted_per_token(three_per_minute, tenant_a, client_for, client_b):
    first, second = client_for(tenant_a.user), client_for(tenant_a.user)
    for _ in range(3):
        first.get(URL)

    assert first.get(URL).status_code == 429
    assert second.get(URL).status_code == 200
    assert client_b.get(URL).status_code == 200


def test_writes_count_too_and_a_throttled_write_saves_nothing(three_per_minute, client_a):
    for name in ("one", "two", "three"):
        assert client_a.post(URL, {"name": name, "script": "x = 1\n"}).status_code == 201

    refused = client_a.post(URL, {"name": "four", "script": "x = 1\n"})

    assert refused.status_code == 429
    assert not Dialplan.objects.filter(name="four").exists()
