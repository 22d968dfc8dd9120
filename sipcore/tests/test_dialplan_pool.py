"""Dialplans in the sandbox pool: SIPSorcery scripts verbatim, hostile scripts, limits, dry run."""

import asyncio
import os
import signal
import sys
import time

import pytest

from sipcore.dialplan import (
    CallContext,
    Dial,
    DialplanPool,
    DialplanRequest,
    DialResult,
    DialResultName,
    Direction,
    Finished,
    Log,
    OutcomeKind,
    Respond,
    SandboxLimits,
    SetCustomHeader,
    SetFromHeader,
)
from sipcore.dialstring import DialPlanString, TargetKind

SCRIPT_SECONDS = 0.5

SIPSORCERY_SCRIPT = """\
if sys.Out:
    sys.Dial("${dst}@provider[tr=c]")
else:
    sys.Dial("%s@local" % sys.Username)
sys.Respond(480, "Nobody home")
"""

OUT_CALL = CallContext(
    direction=Direction.OUT,
    username="alice",
    uri_user="0035312345",
    uri_host="sip.example.com",
    from_name="Alice Smith",
    from_user="alice",
    from_host="sip.example.com",
    from_header='"Alice Smith" <sip:alice@sip.example.com>;tag=1',
    to_name="",
    to_user="0035312345",
    to_host="sip.example.com",
    to_header="<sip:0035312345@sip.example.com>",
    body="v=0",
)
IN_CALL = CallContext(
    direction=Direction.IN, username="aaron", uri_user="aaron", uri_host="sip.example.com"
)


class FakeHost:
    """Records what the script did; each Dial takes the next result (or waits on a gate)."""

    def __init__(self, results=(), gate: asyncio.Event | None = None) -> None:
        self.results = list(results)
        self.gate = gate
        self.dialling = asyncio.Event()
        self.dial_cancelled = False
        self.actions: list[tuple] = []

    async def dial(self, dialstring: DialPlanString, ring_timeout, answered_limit) -> DialResult:
        self.actions.append(("dial", dialstring, ring_timeout, answered_limit))
        self.dialling.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.dial_cancelled = True
                raise
        if self.results:
            return self.results.pop(0)
        return DialResult(name=DialResultName.NO_ANSWER, status=480, reason="No Answer")

    async def respond(self, code, reason) -> None:
        self.actions.append(("respond", code, reason))

    async def log(self, text) -> None:
        self.actions.append(("log", text))

    def set_from_header(self, name, user, host) -> None:
        self.actions.append(("from", name, user, host))

    def set_custom_header(self, name, value) -> None:
        self.actions.append(("header", name, value))

    def logs(self) -> list[str]:
        return [action[1] for action in self.actions if action[0] == "log"]


def request(source: str, customer="c1", call=OUT_CALL, name="default", limit=None):
    return DialplanRequest(
        customer_id=customer,
        dialplan_name=name,
        source=source,
        call=call,
        execution_limit=limit,
    )


LIMITS = SandboxLimits(memory_bytes=512 * 1024 * 1024, script_seconds=SCRIPT_SECONDS)


@pytest.fixture
async def pool():
    async with DialplanPool(size=2, limits=LIMITS) as pool:
        yield pool


def customers_on(pool: DialplanPool, slot: int, count: int) -> list[str]:
    found = (f"customer-{n}" for n in range(1000))
    return [c for c in found if pool.slot_of(c) == slot][:count]


async def test_sipsorcery_script_out_dials_the_provider_with_transfer_c(pool):
    host = FakeHost([DialResult(name=DialResultName.BUSY, status=486, reason="Busy Here")])
    outcome = await pool.run(request(SIPSORCERY_SCRIPT), host)
    (dial, respond) = host.actions
    _, dialstring, ring_timeout, answered_limit = dial
    (leg,) = dialstring.legs
    assert (leg.target_kind, leg.user, leg.host) == (TargetKind.NAMED, "0035312345", "provider")
    assert leg.options.transfer == "c"
    assert (ring_timeout, answered_limit) == (180, None)
    assert respond == ("respond", 480, "Nobody home")
    assert (outcome.kind, outcome.status, outcome.reason) == (
        OutcomeKind.RESPONDED,
        480,
        "Nobody home",
    )


async def test_sipsorcery_script_in_dials_the_local_account(pool):
    host = FakeHost()
    await pool.run(request(SIPSORCERY_SCRIPT, call=IN_CALL), host)
    (leg,) = host.actions[0][1].legs
    assert (leg.target_kind, leg.user) == (TargetKind.LOCAL, "aaron")


@pytest.mark.parametrize(
    ("source", "hosts", "transfer"),
    [
        ('sys.Dial("1234@provider[tr=n]")\n', [["provider"]], "n"),
        ('sys.Dial("${dst}@provider1|${dst}@provider2")\n', [["provider1"], ["provider2"]], None),
    ],
)
async def test_sipsorcery_one_liners(pool, source, hosts, transfer):
    host = FakeHost()
    outcome = await pool.run(request(source), host)
    dialstring = host.actions[0][1]
    assert [[leg.host for leg in group] for group in dialstring.groups] == hosts
    assert dialstring.legs[0].options.transfer == transfer
    assert (outcome.kind, outcome.status, outcome.reason) == (
        OutcomeKind.FINISHED,
        480,
        "No Answer",
    )


async def test_an_answered_dial_ends_the_script(pool):
    host = FakeHost([DialResult(name=DialResultName.ANSWERED)])
    source = 'r = sys.Dial("a@p")\nsys.Log("after")\nsys.Respond(500, "no")\n'
    outcome = await pool.run(request(source), host)
    assert (outcome.kind, outcome.status) == (OutcomeKind.ANSWERED, None)
    assert [action[0] for action in host.actions] == ["dial"]


async def test_respond_ends_the_script(pool):
    host = FakeHost()
    outcome = await pool.run(request('sys.Respond(404, "Gone")\nsys.Log("after")\n'), host)
    assert host.actions == [("respond", 404, "Gone")]
    assert outcome.kind is OutcomeKind.RESPONDED


async def test_sys_properties_last_failure_and_req(pool):
    host = FakeHost([DialResult(name=DialResultName.BUSY, status=486, reason="Busy Here")])
    source = """\
sys.Log("%s %s %s %s" % (sys.Out, sys.In, sys.Username, sys.DialPlanName))
sys.Log("before: %s" % sys.LastFailureStatus)
r = sys.Dial("${dst}@provider")
sys.Log("%s %s %s" % (r, sys.LastFailureStatus, sys.LastFailureReason))
sys.Log(req.URI.User + "@" + req.URI.Host + " " + req.Method + " " + req.Body)
sys.Log(req.Header.From.FromName + " " + req.Header.From.FromURI.User)
sys.Log(req.Header.To.ToURI.User + " " + req.Header.To.Value)
"""
    outcome = await pool.run(request(source, name="outbound"), host)
    assert host.logs() == [
        "True False alice outbound",
        "before: None",
        "Busy 486 Busy Here",
        "0035312345@sip.example.com INVITE v=0",
        "Alice Smith alice",
        "0035312345 <sip:0035312345@sip.example.com>",
    ]
    assert (outcome.kind, outcome.status, outcome.reason) == (
        OutcomeKind.FINISHED,
        486,
        "Busy Here",
    )


async def test_dial_timeouts_are_passed_and_capped(pool):
    host = FakeHost()
    source = 'sys.Dial("a@p", 30, 600)\nsys.Dial("a@p", ring_timeout=999)\n'
    await pool.run(request(source), host)
    assert [(a[2], a[3]) for a in host.actions] == [(30, 600), (180, None)]


async def test_dial_string_error_is_logged_and_returns_error(pool):
    host = FakeHost()
    source = 'r = sys.Dial("${dst}@provider[tr=x]")\nsys.Log("got " + r)\n'
    outcome = await pool.run(request(source), host)
    error, result = host.logs()
    assert "unknown tr value 'x'" in error and "${dst}@provider[tr=x]" in error
    assert result == "got Error"
    assert outcome.kind is OutcomeKind.FINISHED


async def test_more_than_twenty_legs_per_execution_are_refused(pool):
    host = FakeHost()
    source = 'for i in range(3):\n    sys.Log(sys.Dial("&".join(["a@p"] * 8)))\n'
    await pool.run(request(source), host)
    assert host.logs()[-2:][0].startswith("sys.Dial(")
    assert host.logs()[-1] == "Error"
    assert len([a for a in host.actions if a[0] == "dial"]) == 2


async def test_log_lines_and_sys_calls_are_capped(pool):
    host = FakeHost()
    outcome = await pool.run(request('for i in range(150):\n    sys.Log("line %d" % i)\n'), host)
    assert host.logs()[99:] == ["line 99", "sys.Log: over 100 lines, the rest are dropped"]
    assert outcome.kind is OutcomeKind.FINISHED
    host = FakeHost()
    source = 'for i in range(2000):\n    sys.SetCustomSIPHeader("X-N", str(i))\n'
    outcome = await pool.run(request(source), host)
    assert "more than 1000 sys calls" in outcome.error
    assert len([a for a in host.actions if a[0] == "header"]) == 1000


async def test_headers_and_forbidden_headers(pool):
    host = FakeHost()
    source = """\
sys.SetFromHeader("Front Desk", "reception", "example.com")
sys.SetCustomSIPHeader("X-Account", "42")
sys.SetCustomSIPHeader("Via", "SIP/2.0/UDP evil")
sys.SetCustomSIPHeader("call-id", "x")
"""
    outcome = await pool.run(request(source), host)
    assert host.actions[:2] == [
        ("from", "Front Desk", "reception", "example.com"),
        ("header", "X-Account", "42"),
    ]
    assert [a[1] for a in host.actions[2:]] == [
        "sys.SetCustomSIPHeader refused: a dialplan cannot set Via",
        "sys.SetCustomSIPHeader refused: a dialplan cannot set call-id",
    ]
    assert outcome.kind is OutcomeKind.FINISHED


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ('sys.Respond("busy")\n', "the code must be 300 to 699"),
        ("sys.Dial(42)\n", "the dial string must be a string"),
        ('sys.Dial("a@p", ring_timeout=-1)\n', "ring_timeout must be a positive"),
        ('sys.SetCustomSIPHeader("X-A", "a\\r\\nVia: x")\n', "must be one short line"),
        ("x = undefined_name\n", "Variable `undefined_name` not found"),
        ("x = 1 // 0\n", "division by zero"),
        ("sys.Log(*list(range(100000)))\n", "too many arguments (100000)"),
        ('sys.Dial("a@p", bogus=1)\n', "sys.Dial has no argument 'bogus'"),
        ("sys.Respond()\n", "sys.Respond needs code"),
    ],
)
async def test_script_errors_end_in_a_logged_500(pool, source, needle):
    host = FakeHost()
    outcome = await pool.run(request(source), host)
    assert (outcome.kind, outcome.status) == (OutcomeKind.ERROR, 500)
    assert needle in outcome.error
    assert host.logs()[-1].startswith("dialplan error: ")


async def test_an_oversized_source_never_reaches_a_sandbox(pool):
    host = FakeHost()
    outcome = await pool.run(request("x = 1\n" * 20000), host)
    assert (outcome.kind, outcome.error) == (
        OutcomeKind.ERROR,
        "the dialplan is longer than 65536 characters",
    )


HOSTILE = {  # name: (source, what the error says)
    "recursion": ("def f(n):\n    return f(n + 1)\nf(0)\n", "call stack overflow"),
    "endless_for": ("for i in range(2000000000):\n    pass\n", "longer than its limit"),
    "nested_for": (
        "for i in range(100000):\n    for j in range(100000):\n        pass\n",
        "longer than its limit",
    ),
    "power_syntax": ("x = [0] * 10**9\n", "unexpected symbol '**'"),
    "load": ('load("/etc/passwd", "x")\n', "`load` is not allowed"),
    "import": ("import os\n", "reserved keyword `import`"),
    "open": ('open("/etc/passwd")\n', "Variable `open` not found"),
    "getattr_private": ('getattr(sys, "__class__")\n', "`.__class__` not supported"),
    "getattr_globals": ('getattr(sys.Dial, "__globals__")\n', "`.__globals__` not supported"),
    "getattr_internal": ('x = getattr(sys, "_sys_info")\n', "`._sys_info` not supported"),
    "while": ("x = 1\nwhile x:\n    x = 1\n", "reserved keyword `while`"),
    "deep_nesting": ("x = " + "-" * 5000 + "1\n", "statement too complex"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_scripts_fail_quickly_while_others_complete(pool, name):
    hostile, *neighbours = customers_on(pool, pool.slot_of("customer-0"), 3)
    started = time.monotonic()
    hostile_host = FakeHost()
    good_hosts = [FakeHost() for _ in neighbours]
    good = 'for i in range(1000):\n    pass\nsys.Respond(486, "fine")\n'
    source, needle = HOSTILE[name]
    outcomes = await asyncio.gather(
        pool.run(request(source, customer=hostile), hostile_host),
        *(
            pool.run(request(good, customer=c), h)
            for c, h in zip(neighbours, good_hosts, strict=True)
        ),
    )
    assert time.monotonic() - started < SCRIPT_SECONDS + 5
    assert (outcomes[0].kind, outcomes[0].status) == (OutcomeKind.ERROR, 500)
    assert needle in outcomes[0].error
    assert hostile_host.logs()[-1].startswith("dialplan error: ")
    assert all(outcome.status == 486 for outcome in outcomes[1:])


async def test_time_limit_message(pool):
    endless = await pool.run(request(HOSTILE["endless_for"][0]), FakeHost())
    assert endless.error == "the script ran longer than its limit of 0.5 s"


async def test_time_waiting_in_dial_does_not_count(pool):
    gate = asyncio.Event()
    host = FakeHost(gate=gate)
    task = asyncio.create_task(pool.run(request('sys.Dial("a@p")\nsys.Log("done")\n'), host))
    await host.dialling.wait()
    await asyncio.sleep(SCRIPT_SECONDS * 2)
    gate.set()
    outcome = await task
    assert outcome.kind is OutcomeKind.FINISHED
    assert host.logs() == ["done"]


ABORTED = "the dialplan sandbox stopped (killed by SIGABRT)"
PANICKED = "the dialplan crashed the interpreter: PanicException: out of memory"


@pytest.mark.parametrize(
    ("bomb", "error"),
    [
        pytest.param("x = 'a' * 2000000000\ny = x + x\n", ABORTED, id="string-aborts"),
        pytest.param("x = [0] * 1000000000\n", ABORTED, id="list-aborts"),
        pytest.param("x = [0] * 100000000\ny = x + x\n", ABORTED, id="list-doubling-aborts"),
        pytest.param("x = 'a' * 200000000\ny = x + x\nz = y + y\n", PANICKED, id="panic-retires"),
    ],
)
async def test_memory_bomb_costs_only_its_sandbox_which_is_replaced(pool, bomb, error):
    bomber = customers_on(pool, 0, 1)[0]
    other = customers_on(pool, 1, 1)[0]
    gate = asyncio.Event()
    waiting = FakeHost(gate=gate)
    other_call = asyncio.create_task(
        pool.run(request('sys.Dial("a@p")\nsys.Respond(486, "ok")\n', customer=other), waiting)
    )
    await waiting.dialling.wait()
    pids = await pool.sandbox_pids()
    outcome = await pool.run(request(bomb, customer=bomber), FakeHost())
    assert (outcome.kind, outcome.status, outcome.error) == (OutcomeKind.ERROR, 500, error)
    gate.set()
    assert (await other_call).status == 486
    after = await pool.run(request('sys.Respond(404, "x")\n', customer=bomber), FakeHost())
    assert after.status == 404
    new_pids = await pool.sandbox_pids()
    assert new_pids[0] != pids[0] and new_pids[1] == pids[1]


async def test_a_killed_sandbox_fails_its_calls_and_is_replaced(pool):
    customer = customers_on(pool, 1, 1)[0]
    host = FakeHost(gate=asyncio.Event())
    task = asyncio.create_task(pool.run(request('sys.Dial("a@p")\n', customer=customer), host))
    await host.dialling.wait()
    victim = (await pool.sandbox_pids())[1]
    os.kill(victim, signal.SIGKILL)
    outcome = await task
    assert (outcome.kind, outcome.status) == (OutcomeKind.ERROR, 500)
    assert "killed by SIGKILL" in outcome.error
    assert host.dial_cancelled
    assert (
        await pool.run(request('sys.Respond(404, "x")\n', customer=customer), FakeHost())
    ).status == 404
    assert (await pool.sandbox_pids())[1] != victim


async def test_per_customer_concurrent_executions_are_limited(pool):
    gate = asyncio.Event()
    hosts = [FakeHost(gate=gate) for _ in range(5)]
    running = [asyncio.create_task(pool.run(request('sys.Dial("a@p")\n'), h)) for h in hosts]
    await asyncio.gather(*(h.dialling.wait() for h in hosts))
    refused = await pool.run(request('sys.Log("x")\n'), FakeHost())
    assert (refused.kind, refused.status) == (OutcomeKind.LIMITED, 480)
    other = await pool.run(request('sys.Respond(404, "x")\n', customer="c2"), FakeHost())
    assert other.status == 404
    gate.set()
    assert {(await task).kind for task in running} == {OutcomeKind.FINISHED}
    again = await pool.run(request('sys.Respond(404, "x")\n'), FakeHost())
    assert again.status == 404


async def test_the_request_can_carry_the_customers_own_limit(pool):
    gate = asyncio.Event()
    host = FakeHost(gate=gate)
    first = asyncio.create_task(pool.run(request('sys.Dial("a@p")\n', limit=1), host))
    await host.dialling.wait()
    refused = await pool.run(request("x = 1\n", limit=1), FakeHost())
    assert refused.kind is OutcomeKind.LIMITED
    gate.set()
    await first


async def test_cancelling_the_caller_aborts_the_script(pool):
    host = FakeHost(gate=asyncio.Event())
    task = asyncio.create_task(pool.run(request('sys.Dial("a@p")\n'), host))
    await host.dialling.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert host.dial_cancelled
    assert (await pool.run(request('sys.Respond(404, "x")\n'), FakeHost())).status == 404


async def test_dry_run_lists_the_actions(pool):
    source = """\
sys.SetFromHeader("Shop", None, None)
r = sys.Dial("${dst}@provider1[tr=c]&${dst}@provider2", 20)
sys.Log("first: " + r)
if r == "Busy":
    r = sys.Dial("sip:${dst:4}@gw.example.com")
sys.Log("second: " + r)
sys.Respond(sys.LastFailureStatus, sys.LastFailureReason)
"""
    actions = await pool.dry_run(request(source), ["Busy", "Failed"])
    assert actions[0] == SetFromHeader(name="Shop", user=None, host=None)
    first, second = actions[1], actions[3]
    assert isinstance(first, Dial) and isinstance(second, Dial)
    assert first.dialstring == "${dst}@provider1[tr=c]&${dst}@provider2"
    assert [[leg.host for leg in group] for group in first.legs] == [["provider1", "provider2"]]
    assert first.legs[0][0].options.transfer == "c"
    assert (first.ring_timeout, first.result) == (20, DialResultName.BUSY)
    assert second.legs[0][0].uri == "sip:312345@gw.example.com"
    assert second.result is DialResultName.FAILED
    assert actions[2] == Log(text="first: Busy")
    assert actions[4:6] == [
        Log(text="second: Failed"),
        Respond(code=503, reason="Service Unavailable"),
    ]
    assert isinstance(actions[6], Finished)
    assert actions[6].outcome.kind is OutcomeKind.RESPONDED


async def test_dry_run_of_a_broken_script_ends_with_the_error(pool):
    actions = await pool.dry_run(request('sys.Dial("a@p[tr=q]")\nx = 1 // 0\n'), [])
    assert "unknown tr value 'q'" in actions[0].text
    assert actions[-1].outcome.kind is OutcomeKind.ERROR
    assert "division by zero" in actions[-1].outcome.error
    assert "dialplan:2" in actions[-1].outcome.error


async def test_dry_run_refuses_unknown_outcomes(pool):
    with pytest.raises(ValueError, match="unknown Dial outcomes"):
        await pool.dry_run(request("x = 1\n"), ["Maybe"])


async def test_dry_run_custom_header_action(pool):
    actions = await pool.dry_run(request('sys.SetCustomSIPHeader("X-Tag", "a")\n'), [])
    assert actions[0] == SetCustomHeader(name="X-Tag", value="a")


async def test_a_stalled_sandbox_is_killed_and_replaced():
    limits = SandboxLimits(script_seconds=SCRIPT_SECONDS, stall_seconds=1.0)
    async with DialplanPool(size=1, limits=limits) as pool:
        host = FakeHost(gate=asyncio.Event())
        task = asyncio.create_task(pool.run(request('sys.Dial("a@p")\n'), host))
        await host.dialling.wait()
        (stalled,) = await pool.sandbox_pids()
        os.kill(stalled, signal.SIGSTOP)
        outcome = await asyncio.wait_for(task, 10)
        assert "killed by SIGKILL" in outcome.error
        assert (await pool.run(request('sys.Respond(404, "x")\n'), FakeHost())).status == 404
        assert await pool.sandbox_pids() != [stalled]


async def test_a_sandbox_past_half_its_cpu_allowance_is_retired():
    limits = SandboxLimits(script_seconds=SCRIPT_SECONDS, cpu_seconds=2)
    async with DialplanPool(size=1, limits=limits) as pool:
        (first,) = await pool.sandbox_pids()
        busy = "for i in range(2000000000):\n    pass\n"
        for _ in range(2):
            await pool.run(request(busy), FakeHost())
        (second,) = await pool.sandbox_pids()
        assert second != first
        assert (await pool.run(request('sys.Respond(404, "x")\n'), FakeHost())).status == 404


async def test_a_sandbox_that_cannot_start_gives_errors_until_it_can(pool, monkeypatch):
    customer = customers_on(pool, 0, 1)[0]
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    os.kill((await pool.sandbox_pids())[0], signal.SIGKILL)
    for _ in range(50):
        outcome = await pool.run(request("x = 1\n", customer=customer), FakeHost())
        if outcome.error == "no dialplan sandbox could be started":
            break
        await asyncio.sleep(0.05)
    assert (outcome.kind, outcome.status) == (OutcomeKind.ERROR, 500)
    assert outcome.error == "no dialplan sandbox could be started"
    monkeypatch.undo()
    outcome = await pool.run(request('sys.Respond(404, "x")\n', customer=customer), FakeHost())
    assert outcome.status == 404


async def test_sandboxes_run_under_memory_and_cpu_limits(pool):
    for pid in await pool.sandbox_pids():
        with open(f"/proc/{pid}/limits") as limits:
            rows = {line[:26].strip(): line[26:].split() for line in limits}
        assert rows["Max address space"][:2] == [str(LIMITS.memory_bytes)] * 2
        assert rows["Max cpu time"][:2] == [str(LIMITS.cpu_seconds)] * 2
        assert rows["Max core file size"][:2] == ["0", "0"]


async def test_a_full_sandbox_queues_briefly_then_answers_503():
    limits = SandboxLimits(evaluations_per_sandbox=2, queue_seconds=0.3)
    async with DialplanPool(size=1, limits=limits) as pool:
        gate = asyncio.Event()
        hosts = [FakeHost(gate=gate) for _ in range(2)]
        busy = [
            asyncio.create_task(pool.run(request('sys.Dial("a@p")\n', customer=n), host))
            for n, host in enumerate(hosts)
        ]
        await asyncio.gather(*(host.dialling.wait() for host in hosts))
        overloaded = await pool.run(request("x = 1\n", customer="x"), FakeHost())
        assert (overloaded.kind, overloaded.status) == (OutcomeKind.OVERLOADED, 503)
        queued = asyncio.create_task(pool.run(request('sys.Respond(404, "x")\n'), FakeHost()))
        await asyncio.sleep(0.1)
        gate.set()
        assert (await queued).status == 404
        await asyncio.gather(*busy)
