"""BanPolicy: ban lengths grow per repeat offence up to the cap; nonsense is refused."""

import pytest

from sipcore.security import BanPolicy


def test_each_repeat_offence_multiplies_the_ban_until_the_cap():
    policy = BanPolicy(first_ban=60, ban_growth=4, max_ban=3600)
    assert [policy.ban_duration(n) for n in (1, 2, 3, 4, 100)] == [60, 240, 960, 3600, 3600]


def test_growth_of_one_keeps_every_ban_the_same_length():
    policy = BanPolicy(first_ban=30, ban_growth=1, max_ban=30)
    assert policy.ban_duration(1) == policy.ban_duration(50) == 30


def test_offences_are_counted_from_one():
    with pytest.raises(ValueError, match="from 1"):
        BanPolicy().ban_duration(0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_source_failures": 0}, "max_source_failures must be positive"),
        ({"failure_window": -1}, "failure_window must be positive"),
        ({"ban_growth": 0.5}, "ban_growth must be at least 1"),
        ({"first_ban": 100, "max_ban": 10}, "max_ban must not be shorter"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        BanPolicy(**overrides)
