"""What the end-to-end transfer tests share: real phones on the worker, and the questions
every such test asks (who talks to whom, what the transferor was told, what was recorded).

"Talking" is judged from each phone's own view, never from the server's: a real phone's SIP
trace (``TracedPhone.dialogues``: linphonec's debug log, baresip's ``-s`` output) or a
scriptable phone's ``PhoneCall.local_sdp``/``remote_sdp`` give the session description the
phone offered or answered last and the one the other side gave it last; two phones talk when
each holds the other's.
Ports come from this suite's own range (team rule): SIP and control 26000-26399, RTP
26400-26999.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from sipcore.directory import TransferPolicy
from sipcore.message import Request
from sipcore.testing import free_port
from sipcore.tests.phones import (
    DOMAIN,
    PASSWORD,
    Baresip,
    Linphone,
    PhoneCall,
    TracedMessage,
    TracedPhone,
    World,
)
from sipcore.transfer.subscription import parse_sipfrag

SIP_PORTS = range(26000, 26400)
RTP_PORTS = range(26400, 27000)
TRANSFER_DIALPLAN = 'sys.Dial("${dst}@local")\n'
"""The owner's ``transfer`` dialplan: ring the Refer-To user's registered phones."""
PREMIUM_PREFIXES = frozenset({"44909", "0909", "1900", "979"})
"""A few of the premium-rate ranges the platform's destination policy is pre-filled with."""

LINPHONE_MARKS = [
    pytest.mark.real,
    pytest.mark.skipif(not Linphone.available(), reason="linphonec is not installed"),
]
"""``pytestmark`` of a module whose tests all run linphonec."""

RealPhone = TypeVar("RealPhone", Linphone, Baresip)

_taken: set[int] = set()


def _rtp_port() -> int:
    """An even port whose successor (RTCP) is free as well."""
    for _ in range(200):
        port = free_port(RTP_PORTS, *_taken)
        if port % 2 or port + 1 not in RTP_PORTS:
            continue
        try:
            free_port(range(port + 1, port + 2), *_taken)
        except RuntimeError:
            continue
        _taken.update({port, port + 1})
        return port
    raise RuntimeError("no free RTP port pair")


def add_accounts(world: World, *users: str, **fields: object) -> None:
    """An account for each of ``users``, all with ``fields``."""
    for user in users:
        world.add_account(user, **fields)


def use_policy(world: World, value: str, *users: str) -> None:
    for user in users:
        world.change_account(user, transfer_policy=TransferPolicy(value=value, source="account"))


def add_transfer_dialplan(world: World, customer_id: int = 1) -> None:
    world.directory.add_dialplan(customer_id, "transfer", TRANSFER_DIALPLAN)


async def registered(world: World, *users: str, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        for user in users:
            record = world.directory.accounts[(user, DOMAIN)]
            while not await world.directory.bindings(record.id, time.time()):
                await asyncio.sleep(0.05)


async def linphones(
    tmp_path: Path, world: World, *users: str, ringing: tuple[str, ...] = ()
) -> dict[str, Linphone]:
    """A traced linphonec per user, registered; those in ``ringing`` do not answer by
    themselves (``answer``)."""
    started: dict[str, Linphone] = {}
    try:
        for user in users:
            sip_port = free_port(SIP_PORTS, *_taken)
            _taken.add(sip_port)
            phone = Linphone(
                tmp_path / f"linphone-{user}",
                sip_port,
                _rtp_port(),
                auto_answer=user not in ringing,
                trace=True,
            )
            phone.configure(user, PASSWORD, world.addresses["udp"])
            started[user] = phone
            await phone.start()
        await registered(world, *users)
    except BaseException:
        await stop(started)
        raise
    return started


async def stop(started: dict[str, Linphone] | dict[str, Baresip]) -> None:
    for phone in started.values():
        await phone.stop()
    for phone in started.values():
        if isinstance(phone, Linphone):
            _taken.difference_update({phone.sip_port, phone.rtp_port, phone.rtp_port + 1})
        else:
            _taken.difference_update({phone.sip_port, phone.sip_port + 1, phone.ctrl_port})
            first, last = (int(port) for port in phone.rtp_ports.split("-"))
            _taken.difference_update(range(first, last + 1))


LIBRE_ALGORITHMS = ("MD5",)
"""baresip 1.0's libre refuses a 401/407 that carries any SHA-256 challenge: a world with
baresip phones offers MD5 only (``running_world(digest_algorithms=...)``)."""


def _baresip_ports() -> tuple[int, int, str]:
    """A SIP port whose successor (baresip's TLS listener) is free, a control port and a
    range of 20 RTP ports."""
    for _ in range(200):
        sip = free_port(SIP_PORTS, *_taken)
        try:
            free_port(range(sip + 1, sip + 2), *_taken)
        except RuntimeError:
            continue
        _taken.update({sip, sip + 1})
        control = free_port(SIP_PORTS, *_taken)
        _taken.add(control)
        first = free_port(range(RTP_PORTS.start, RTP_PORTS.stop - 20, 20), *_taken)
        _taken.update(range(first, first + 20))
        return sip, control, f"{first}-{first + 19}"
    raise RuntimeError("no free ports for baresip")


async def baresips(
    tmp_path: Path, world: World, *users: str, call_seconds: float = 60.0
) -> dict[str, Baresip]:
    """A traced baresip per user (answering by itself), registered; its calls last up to
    ``call_seconds`` (the length of its audio file)."""
    started: dict[str, Baresip] = {}
    server = world.addresses["udp"]
    try:
        for user in users:
            sip_port, control, rtp = _baresip_ports()
            phone = Baresip(tmp_path / f"baresip-{user}", sip_port, control, rtp)
            phone.configure(
                f"<sip:{user}@{DOMAIN}>;auth_pass={PASSWORD};"
                f'outbound="sip:{server.hostport}";regint=300;answermode=auto',
                tone_seconds=call_seconds,
            )
            started[user] = phone
            await phone.start(trace=True)
        await registered(world, *users)
    except BaseException:
        await stop(started)
        raise
    return started


def running_linphones(
    tmp_path: Path, world: World, *users: str, ringing: tuple[str, ...] = ()
) -> AbstractAsyncContextManager[tuple[Linphone, ...]]:
    """The ``linphones`` of ``users``, in that order; stopped at the end."""
    return _in_order_until_stopped(linphones(tmp_path, world, *users, ringing=ringing), users)


def running_baresips(
    tmp_path: Path, world: World, *users: str
) -> AbstractAsyncContextManager[tuple[Baresip, ...]]:
    """The ``baresips`` of ``users``, in that order; stopped at the end."""
    return _in_order_until_stopped(baresips(tmp_path, world, *users), users)


@asynccontextmanager
async def _in_order_until_stopped(
    starting: Awaitable[dict[str, RealPhone]], users: tuple[str, ...]
) -> AsyncIterator[tuple[RealPhone, ...]]:
    started = await starting
    try:
        yield tuple(started[user] for user in users)
    finally:
        await stop(started)


# who talks to whom ---------------------------------------------------------------------------


def phones_talk(x: TracedPhone, y: TracedPhone) -> bool:
    """``x`` and ``y`` each hold a live dialogue whose remote audio port is the other's own."""
    return any(
        dx.remote is not None
        and dx.remote == dy.local
        and dy.remote is not None
        and dy.remote == dx.local
        for dx in x.live_dialogues()
        for dy in y.live_dialogues()
    )


async def until_talking(x: TracedPhone, y: TracedPhone, timeout: float = 15.0) -> None:
    """Wait until ``x`` and ``y`` talk (re-INVITEs take a moment to cross)."""
    try:
        async with asyncio.timeout(timeout):
            while not phones_talk(x, y):
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not talking: {x.dialogues()} / {y.dialogues()}") from None


# what the transferor was told, what was recorded --------------------------------------------


def traced_notifies(phone: TracedPhone) -> list[tuple[str, int | None, str]]:
    """(Event, sipfrag status, Subscription-State) of every NOTIFY the phone received."""
    return [_notify_view(m) for m in phone.notifies()]


def _notify_view(message: TracedMessage) -> tuple[str, int | None, str]:
    frag = parse_sipfrag(message.body.encode())
    return (
        message.header("Event") or message.header("o") or "",
        frag[0] if frag else None,
        message.header("Subscription-State") or "",
    )


async def transferor_left(
    world: World, transferor: TracedPhone, transferee: TracedPhone
) -> tuple[dict, list[tuple[str, int | None, str]]]:
    """Once the transferor holds no live dialogue (and so no longer talks to the transferee):
    the final audit record and the transferor's ``traced_notifies``."""
    record = await final_audit(world)
    await world.settle(lambda: not transferor.live_dialogues())
    assert not phones_talk(transferee, transferor)
    return record, traced_notifies(transferor)


def refer_answers(phone: TracedPhone) -> list[int]:
    """The final statuses of the REFERs the phone sent."""
    return [m.status or 0 for m in phone.responses("REFER")]


async def refer_answered(phone: TracedPhone, count: int = 1, timeout: float = 15.0) -> list[int]:
    """The final statuses of the phone's REFERs once ``count`` of them are answered."""
    async with asyncio.timeout(timeout):
        while len(refer_answers(phone)) < count:
            await asyncio.sleep(0.05)
    return refer_answers(phone)


def phone_notifies(call: PhoneCall) -> list[Request]:
    return [r for r in call.requests if r.method == "NOTIFY"]


def transfer_kinds(world: World) -> list[str]:
    return [k for k in world.events.kinds() if k.startswith("transfer.")]


def transfer_events(world: World, kind: str) -> list[dict]:
    return [dict(e.data) for e in world.events.events if e.kind == kind]


async def final_audit(world: World, count: int = 1, timeout: float = 15.0) -> dict:
    """The last transfer audit record once ``count`` transfers have an outcome."""

    def finished() -> list[dict]:
        return [a for a in world.events.transfer_audits if a["outcome"] != "pending"]

    await world.settle(lambda: len(finished()) >= count, timeout=timeout)
    return dict(finished()[-1])
