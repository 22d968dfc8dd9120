"""An established call must not grow: the worker's memory per call held up is bounded.

Measured with ``tracemalloc`` in the worker's process, the phones in another process
(``sipcore.tests.call_memory``). The bound sits 10 % above today's figure (20.1 KiB held by
each of 200 calls once the parsed-value memo is set aside; 19.7 KiB at 1,000 calls, 23.3 KiB
with the memo), so a change that makes every call carry more fails here, not in the bench.
"""

from sipcore.tests.call_memory import measure_call_memory

CALLS = 200
HELD_PER_CALL_KIB = 22.0


async def test_established_calls_hold_less_than_the_bound_each():
    figure = await measure_call_memory(CALLS)
    assert figure.held_per_call_kib < HELD_PER_CALL_KIB, (
        f"{figure.held_per_call_kib:.2f} KiB held per established call "
        f"(bound {HELD_PER_CALL_KIB} KiB; {figure.per_call_kib:.2f} KiB with the memo)"
    )
