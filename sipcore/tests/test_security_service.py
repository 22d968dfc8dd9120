"""SecurityService with a stepped clock: failures per source and per account become bans of
growing length, bans reach the gate at once and end by themselves, scanners are banned,
staff lift bans, and a failing store never breaks message handling."""

import asyncio

from sipcore.events import MemoryEventSink
from sipcore.message import Request
from sipcore.security import (
    BanPolicy,
    BanReason,
    DropReason,
    MemoryCounterStore,
    SecurityGate,
    SecurityService,
    Subject,
)

ATTACKER = "203.0.113.9"
ALICE = Subject.account("alice", "example.com")


class Harness:
    """A service on a memory store whose spawned follow-ups the test runs explicitly."""

    def __init__(self, **policy: float) -> None:
        defaults = {"max_source_failures": 3, "max_account_failures": 5, "failure_window": 60}
        self.policy = BanPolicy(**{**defaults, "first_ban": 100, "ban_growth": 3, **policy})
        self.store = MemoryCounterStore()
        self.events = MemoryEventSink()
        self.spawned = []
        self.service = SecurityService(
            gate=SecurityGate(),
            store=self.store,
            policy=self.policy,
            events=self.events,
            spawn=self.spawned.append,
            worker_id="w1",
        )

    async def run_spawned(self) -> None:
        while self.spawned:
            await self.spawned.pop(0)


def phone_request() -> Request:
    return Request("OPTIONS", "sip:example.com", [("Call-ID", "y"), ("CSeq", "1 OPTIONS")])


def scanner_request() -> Request:
    return Request(
        "OPTIONS",
        "sip:100@example.com",
        [("From", '"sipvicious"<sip:100@1.1.1.1>;tag=1'), ("Call-ID", "x"), ("CSeq", "1 OPTIONS")],
    )


async def test_the_configured_number_of_failures_from_one_source_bans_it():
    h = Harness()
    gate = h.service.gate
    assert await h.service.auth_failed(ATTACKER, None, 0.0) == []
    assert await h.service.auth_failed(ATTACKER, None, 1.0) == []
    [ban] = await h.service.auth_failed(ATTACKER, None, 2.0)
    assert (ban.subject, ban.since, ban.until, ban.offence) == (
        Subject.source(ATTACKER),
        2.0,
        102.0,
        1,
    )
    assert ban.reason is BanReason.AUTH_FAILURES and ban.detail == "3 failed authentications"
    assert gate.is_banned(Subject.source(ATTACKER), 2.0)
    assert not h.service.screen(phone_request(), ATTACKER, 50.0)
    assert gate.stats.dropped[DropReason.BANNED] == 1
    [event] = h.events.events
    assert event.kind == "security.banned"
    assert event.customer_id is None
    assert event.data["value"] == ATTACKER and event.data["seconds"] == 100


async def test_failures_outside_the_window_do_not_add_up():
    h = Harness()
    for now in (0.0, 30.0, 61.0, 90.0):  # the window restarts at 61
        assert await h.service.auth_failed(ATTACKER, None, now) == []


async def test_a_ban_ends_by_itself_and_its_maker_announces_it_once():
    h = Harness()
    for now in (0.0, 1.0, 2.0):
        await h.service.auth_failed(ATTACKER, None, now)
    await h.service.refresh(50.0)
    assert h.service.gate.is_banned(Subject.source(ATTACKER), 50.0)
    await h.service.refresh(102.0)
    assert not h.service.gate.is_banned(Subject.source(ATTACKER), 102.0)
    await h.service.refresh(103.0)
    assert h.events.kinds() == ["security.banned", "security.unbanned"]
    assert h.events.events[1].data["how"] == "expired"


async def test_each_repeat_offence_bans_longer():
    h = Harness()
    lengths = []
    now = 0.0
    for _ in range(3):
        for _ in range(3):
            bans = await h.service.auth_failed(ATTACKER, None, now)
        lengths.append(bans[0].until - bans[0].since)
        now = bans[0].until  # comes back the moment the ban ends
    assert lengths == [100, 300, 900]


async def test_failures_naming_one_account_from_many_sources_lock_the_account():
    h = Harness(max_source_failures=100)
    made = []
    for i in range(5):
        made += await h.service.auth_failed(f"192.0.2.{i}", ALICE, float(i))
    [lock] = made
    assert lock.subject == ALICE
    assert h.service.gate.is_banned(ALICE, 4.0)
    assert not h.service.gate.is_banned(Subject.source("192.0.2.4"), 4.0)


async def test_a_success_clears_the_accounts_failures():
    h = Harness(max_source_failures=100)
    for i in range(4):
        await h.service.auth_failed(f"192.0.2.{i}", ALICE, float(i))
    await h.service.auth_succeeded(ALICE)
    assert await h.service.auth_failed("192.0.2.9", ALICE, 5.0) == []


async def test_proofs_arriving_together_forget_their_failures_in_one_store_call():
    """A registration storm proves hundreds of passwords a second: the accounts that proved
    while the store was busy are forgotten with one round trip, not one each."""
    h = Harness(max_source_failures=100)
    cleared = []
    clear = h.store.clear_failures

    async def counted(*subjects):
        cleared.append(set(subjects))
        await clear(*subjects)

    h.store.clear_failures = counted
    for i in range(4):
        await h.service.auth_failed(f"192.0.2.{i}", ALICE, float(i))
    for user in ("alice", "bob", "carol"):
        h.service.credentials_proved(user, "example.com")

    assert len(h.spawned) == 1
    await h.run_spawned()
    assert cleared == [{Subject.account(user, "example.com") for user in ("alice", "bob", "carol")}]
    assert await h.service.auth_failed("192.0.2.9", ALICE, 5.0) == []
    h.service.credentials_proved("alice", "example.com")
    assert len(h.spawned) == 1  # the next proof starts the next batch
    await h.run_spawned()


async def test_a_scanner_is_dropped_announced_and_banned():
    h = Harness()
    assert h.service.screen(scanner_request(), ATTACKER, 10.0) is False
    assert h.events.kinds() == ["security.scanner"]
    await h.run_spawned()
    assert h.events.kinds() == ["security.scanner", "security.banned"]
    assert h.events.events[1].data["reason"] == "scanner"
    assert h.events.events[1].data["detail"] == "sipvicious"
    assert h.service.gate.is_banned(Subject.source(ATTACKER), 109.0)
    assert [b.subject for b in await h.store.active_bans(now=11.0)] == [Subject.source(ATTACKER)]


async def test_scanner_bans_can_be_switched_off():
    h = Harness(ban_scanners=False)
    assert h.service.screen(scanner_request(), ATTACKER, 10.0) is False
    assert h.spawned == []


async def test_a_lifted_ban_stops_at_once_and_is_announced_by_the_lifter_only():
    h = Harness()
    for now in (0.0, 1.0, 2.0):
        await h.service.auth_failed(ATTACKER, None, now)
    lifted = await h.service.lift(Subject.source(ATTACKER), now=10.0, by="staff:root")
    assert lifted is not None and lifted.until == 102.0
    assert h.service.screen(phone_request(), ATTACKER, 10.0) is True
    await h.service.refresh(11.0)
    assert h.events.kinds() == ["security.banned", "security.unbanned"]
    assert h.events.events[1].data["how"] == "lifted"
    assert h.events.events[1].data["by"] == "staff:root"
    assert await h.service.lift(Subject.source(ATTACKER), now=12.0) is None


async def test_two_workers_on_one_store_add_up_failures_and_share_bans():
    store = MemoryCounterStore()
    policy = BanPolicy(max_source_failures=4, failure_window=60, first_ban=100)
    services = [
        SecurityService(
            gate=SecurityGate(),
            store=store,
            policy=policy,
            events=MemoryEventSink(),
            spawn=lambda _: None,
            worker_id=name,
        )
        for name in ("w1", "w2")
    ]
    one, two = services
    assert await one.auth_failed(ATTACKER, None, 0.0) == []
    assert await two.auth_failed(ATTACKER, None, 1.0) == []
    assert await one.auth_failed(ATTACKER, None, 2.0) == []
    assert len(await two.auth_failed(ATTACKER, None, 3.0)) == 1
    assert not one.gate.is_banned(Subject.source(ATTACKER), 4.0)  # until it refreshes
    await one.refresh(4.0)
    assert one.gate.is_banned(Subject.source(ATTACKER), 4.0)


class BrokenStore(MemoryCounterStore):
    async def count_failure(self, subject, *, window, now):
        raise ConnectionError("store down")

    async def count_offence(self, subject, *, memory, now):
        raise ConnectionError("store down")

    async def save_ban(self, ban, *, now):
        raise ConnectionError("store down")

    async def active_bans(self, *, now, limit=10_000):
        raise ConnectionError("store down")


async def test_a_store_that_is_down_costs_sharing_not_protection(caplog):
    h = Harness()
    h.service.store = BrokenStore()
    assert await h.service.auth_failed(ATTACKER, ALICE, 0.0) == []
    assert h.service.screen(scanner_request(), ATTACKER, 0.0) is False
    await h.run_spawned()  # banned here, first offence, though the store is unreachable
    assert h.service.gate.is_banned(Subject.source(ATTACKER), 99.0)
    await h.service.refresh(1.0)  # keeps the local bans
    assert h.service.gate.is_banned(Subject.source(ATTACKER), 99.0)
    assert "store down" in caplog.text


class YieldingStore(MemoryCounterStore):
    """Suspends around each count, as a network store does, so guesses interleave."""

    async def count_failure(self, subject, *, window, now):
        await asyncio.sleep(0)
        count = await super().count_failure(subject, window=window, now=now)
        await asyncio.sleep(0)
        return count


async def test_guesses_in_flight_together_make_one_ban():
    h = Harness()
    h.service.store = YieldingStore()
    results = await asyncio.gather(*(h.service.auth_failed(ATTACKER, None, 5.0) for _ in range(6)))
    assert sum(len(bans) for bans in results) == 1
    assert h.events.kinds() == ["security.banned"]
