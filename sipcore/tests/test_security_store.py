"""MemoryCounterStore, the embedded default: fixed windows, offence memory, bans, bounds.

The same behaviour is required of RedisCounterStore (test_security_redis.py runs the shared
cases below against it)."""

import pytest

from sipcore.security import Ban, BanReason, MemoryCounterStore, Subject

SOURCE = Subject.source("203.0.113.9")
ACCOUNT = Subject.account("alice", "example.com")


def ban(subject: Subject, since: float, until: float, offence: int = 1) -> Ban:
    return Ban(subject=subject, since=since, until=until, offence=offence, reason=BanReason.SCANNER)


async def check_fixed_window_counting(store, *, now: float = 1000.0) -> None:
    counts = [await store.count_failure(SOURCE, window=60, now=now + t) for t in (0, 10, 59)]
    assert counts == [1, 2, 3]
    assert await store.count_failure(ACCOUNT, window=60, now=now) == 1  # its own counter
    await store.clear_failures(SOURCE)
    assert await store.count_failure(SOURCE, window=60, now=now + 59) == 1


async def check_bans_round_trip_and_lift(store, *, now: float = 1000.0) -> None:
    first = ban(SOURCE, now, now + 300, offence=2)
    second = ban(ACCOUNT, now, now + 600)
    await store.save_ban(first, now=now)
    await store.save_ban(second, now=now)
    assert await store.active_bans(now=now + 1) == [second, first]  # longest first
    assert await store.lift_ban(SOURCE) == first
    assert await store.lift_ban(SOURCE) is None
    assert await store.active_bans(now=now + 1) == [second]


async def test_failures_count_in_fixed_windows():
    store = MemoryCounterStore()
    await check_fixed_window_counting(store)
    # the window restarted with the first failure after clearing, at 1059
    assert await store.count_failure(SOURCE, window=60, now=1118.0) == 2
    assert await store.count_failure(SOURCE, window=60, now=1119.0) == 1


async def test_offences_are_remembered_from_the_latest_one():
    store = MemoryCounterStore()
    assert await store.count_offence(SOURCE, memory=100, now=0) == 1
    assert await store.count_offence(SOURCE, memory=100, now=90) == 2
    assert await store.count_offence(SOURCE, memory=100, now=180) == 3  # 90 after the last
    assert await store.count_offence(SOURCE, memory=100, now=281) == 1  # forgiven


async def test_bans_are_kept_until_they_end_and_can_be_lifted():
    store = MemoryCounterStore()
    await check_bans_round_trip_and_lift(store)
    assert await store.active_bans(now=1600.0) == []


async def test_a_ban_already_over_is_not_stored():
    store = MemoryCounterStore()
    await store.save_ban(ban(SOURCE, 0, 10), now=20)
    assert await store.active_bans(now=20) == []


async def test_a_new_ban_replaces_the_subjects_old_one():
    store = MemoryCounterStore()
    await store.save_ban(ban(SOURCE, 0, 100), now=0)
    await store.save_ban(ban(SOURCE, 50, 500, offence=2), now=50)
    assert [b.until for b in await store.active_bans(now=60)] == [500]


async def test_memory_stays_bounded_under_many_subjects():
    store = MemoryCounterStore(max_counters=10, max_bans=5)
    for i in range(100):
        await store.count_failure(Subject.source(f"192.0.2.{i}"), window=60, now=i)
        await store.save_ban(ban(Subject.source(f"192.0.2.{i}"), i, 1000 + i), now=i)
    assert len(store._counters) <= 10
    bans = await store.active_bans(now=100)
    assert len(bans) == 5
    assert [b.until for b in bans] == [1099, 1098, 1097, 1096, 1095]  # the latest kept


@pytest.mark.parametrize("key", ["nocolon", "planet:earth", "source:", "source:a b"])
def test_subject_keys_that_name_nothing_are_refused(key):
    with pytest.raises(ValueError):
        Subject.from_key(key)


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"subject": "source:1.2.3.4"}', '{"subject": 5, "since": 1}']
)
def test_stored_ban_text_that_is_not_a_ban_is_refused(text):
    with pytest.raises(ValueError):
        Ban.from_json(text)


def test_a_ban_survives_its_json_form():
    original = ban(ACCOUNT, 1.5, 301.5, offence=3)
    assert Ban.from_json(original.to_json()) == original


async def test_the_counter_touched_least_recently_is_forgotten_first():
    store = MemoryCounterStore(max_counters=2)
    a, b, c = (Subject.source(f"192.0.2.{i}") for i in (1, 2, 3))
    await store.count_failure(a, window=60, now=0)
    await store.count_failure(b, window=60, now=1)
    await store.count_failure(a, window=60, now=2)  # a is the most recent again
    await store.count_failure(c, window=60, now=3)  # so b goes
    assert await store.count_failure(a, window=60, now=4) == 3
    assert await store.count_failure(b, window=60, now=5) == 1
