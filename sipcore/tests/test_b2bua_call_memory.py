"""An established call must not grow: the worker's memory per call held up is bounded.

Measured with ``tracemalloc`` in the worker's process, the phones in another process
(``sipcore.tests.call_memory``). The bound sits about 10 % above today's figure (15.3 KiB
held by each of 200 calls once the parsed-value memo is set aside; 14.1 KiB at 1,000 calls,
14.7 KiB with the memo), so a change that makes every call carry more fails here, not in
the bench.
"""

import gc

from sipcore.message import Address, Request, Response, Via
from sipcore.message.memo import MEMO_ENTRIES, TRANSIENT_ENTRIES
from sipcore.tests.call_memory import measure_call_memory
from sipcore.worker import SipWorker

CALLS = 200
HELD_PER_CALL_KIB = 17.0


def _census(worker: SipWorker, seen: dict[str, int]) -> None:
    assert worker.b2bua is not None
    calls = worker.b2bua.calls
    seen["calls"] = len(calls)
    seen["with transfers"] = sum(call.transfers is not None for call in calls)
    # The phones run in another process: every message alive here is the worker's.
    objects = gc.get_objects()
    seen["responses"] = sum(isinstance(item, Response) for item in objects)
    seen["requests"] = sum(isinstance(item, Request) for item in objects)


async def test_established_calls_hold_less_than_the_bound_each():
    seen: dict[str, int] = {}
    figure = await measure_call_memory(CALLS, inspect=lambda worker: _census(worker, seen))
    assert figure.held_per_call_kib < HELD_PER_CALL_KIB, (
        f"{figure.held_per_call_kib:.2f} KiB held per established call "
        f"(bound {HELD_PER_CALL_KIB} KiB; {figure.per_call_kib:.2f} KiB with the memo)"
    )
    assert seen["calls"] == CALLS
    # Once answered and acknowledged, a call keeps no response: not our 2xx (the dialogue
    # drops it on the ACK, the INVITE server transaction in Accepted keeps none), nor the
    # callee's (the leg keeps its dialogue, the endpoint forgets a request once answered).
    assert seen["responses"] < CALLS / 20, seen
    # Its caller's INVITE, ours to the callee and our ACK to it; no transaction holds more.
    assert seen["requests"] <= 3 * CALLS + CALLS / 20, seen
    # A call's transfer runner is made on its first REFER, not for every call.
    assert seen["with transfers"] == 0, seen


def test_texts_of_one_dialogue_do_not_fill_the_parsed_value_memo():
    """Tagged addresses and Vias (a dialogue's tag, a transaction's branch) have small caches
    of their own: a thousand calls' worth fill those, not the cache of the texts every call
    shares, which would otherwise hold megabytes no later call reads."""
    shared = Address.parse("<sip:carol@example.test>")
    first = Address.parse("<sip:carol@example.test>;tag=t0")
    for index in range(MEMO_ENTRIES):
        tagged = f"<sip:carol@example.test>;tag=t{index}"
        assert Address.parse(tagged) is Address.parse(tagged)  # still shared within a call
        Via.parse(f"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{index}")

    assert Address.parse("<sip:carol@example.test>") is shared
    assert MEMO_ENTRIES > TRANSIENT_ENTRIES
    assert Address.parse("<sip:carol@example.test>;tag=t0") is not first
