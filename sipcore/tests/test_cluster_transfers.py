"""Transfers whose calls sit on different SipWorkers sharing real Redis (database 4).

Each worker runs in this process on its own loopback port with the cluster wired in; the
workers share one directory (accounts, registrations) and one event sink, as the platform's
workers share PostgreSQL. Each phone sends its calls to the worker the test picks, which is
how the front door's Call-ID hash would have placed them.
"""

import asyncio
import contextlib
import time
import uuid

import pytest

from sipcore.cluster import ClusterConfig, DialogueOwnership, WorkerInfo
from sipcore.cluster.dialogues import (
    RemoteDialogues,
    decode_info,
    decode_question,
    encode_info,
    encode_question,
)
from sipcore.cluster.records import ClusterError
from sipcore.cluster.takeover import TAKEOVER_HEADER, TakeoverSigner
from sipcore.events import MemoryEventSink
from sipcore.memory_directory import MemoryDirectory
from sipcore.message import Replaces, Request, new_call_id, new_tag
from sipcore.tests.cluster_support import (
    PEEK,
    cluster_redis_url,
    flushed_redis,
    owner_becomes,
)
from sipcore.tests.phones import DOMAIN, PhoneCall, World, running_world, sdp
from sipcore.tests.test_transfer_server_side import (
    TRANSFER_DIALPLAN,
    account_id,
    attended_refer_joins,
    final_audit,
    invites,
    notified,
    refer,
    refer_is_rejected,
    replaces_uri,
    still_talking,
    talk,
    talking,
    transfer_kinds,
    use_policy,
)
from sipcore.transfer.replaces import DialogueInfo, DialogueState, Transferor

pytestmark = pytest.mark.real

SECRET = b"cluster-test-secret-0123456789"
DATABASE = 4


@pytest.fixture
async def redis():
    async with flushed_redis(DATABASE) as client:
        yield client


@contextlib.asynccontextmanager
async def workers(count: int):
    """``count`` started workers of one platform: sip-1-<run>, sip-2-<run>, ... (the run's
    own names: another test run on the same Redis database never answers their questions)."""
    run = uuid.uuid4().hex[:8]
    cluster = ClusterConfig(
        redis_url=cluster_redis_url(DATABASE), forwarding_secret=SECRET, refresh_interval=0.2
    )
    directory = MemoryDirectory()
    directory.add_domain(DOMAIN)
    events = MemoryEventSink()
    async with contextlib.AsyncExitStack() as stack:
        worlds = [
            await stack.enter_async_context(
                running_world(
                    worker_id=f"sip-{n}-{run}", cluster=cluster, directory=directory, events=events
                )
            )
            for n in range(1, count + 1)
        ]
        for user in ("alice", "bob", "carol", "dave"):
            worlds[0].add_account(user)
        yield worlds


async def on_worker(world: World, caller, callee, offer: bytes) -> tuple[PhoneCall, PhoneCall]:
    """``caller`` calls ``callee`` through ``world``'s worker; both ends once it is up."""
    caller.server = world.addresses["udp"]
    return await talking(world, caller, callee, offer)


async def attended_across(one: World, two: World, policy: str):
    """bob and carol under transfer policy ``policy``; alice talks to bob (``first``) through
    worker ``one``, then to carol (``consult``) through ``two``: both ends of both calls."""
    use_policy(one, policy, "bob", "carol")
    bob, carol = await one.phone("bob"), await one.phone("carol")
    alice = await one.phone("alice")
    first, at_bob = await on_worker(one, alice, bob, sdp("alice-bob"))
    consult, at_carol = await on_worker(two, alice, carol, sdp("alice-carol"))
    return first, at_bob, consult, at_carol


def name(world: World) -> str:
    return world.worker.config.worker_id


def calls(*worlds: World) -> list[int]:
    return [world.worker.active_calls for world in worlds]


# attended --------------------------------------------------------------------------------------


async def test_an_attended_transfer_joins_calls_held_by_two_workers(redis):
    async with workers(2) as (one, two):
        first, at_bob, consult, at_carol = await attended_across(one, two, "p")
        assert calls(one, two) == [1, 1]
        await owner_becomes(redis, consult.invite.call_id, name(two))
        refer_to = replaces_uri(consult)

        await attended_refer_joins(first, at_bob, consult, at_carol, refer_to)

        # each session description passed on untouched, through both workers
        assert at_bob.dialog.state.name == at_carol.dialog.state.name == "CONFIRMED"
        await one.settle(lambda: calls(one, two) == [1, 1])

        record = await final_audit(one, "completed")
        assert (record["kind"], record["decision"], record["final_status"]) == (
            "attended",
            "processed",
            200,
        )
        assert record["notify_statuses"] == [100, 200]
        assert record["worker_id"] == name(one)
        assert record["account_id"] == account_id(one, "alice")
        assert consult.invite.call_id in record["related_call_ids"]
        assert transfer_kinds(one)[-1] == "transfer.completed"

        # the dialogue between the workers is both workers' own: not in the ownership map
        (joined,) = one.worker.b2bua.calls
        hop = next(leg for leg in joined.legs if leg.detail.destination == f"worker {name(two)}")
        await asyncio.sleep(0.5)
        assert await DialogueOwnership(redis, PEEK).owner(hop.detail.call_id) is None

        # transferee and target go on talking through both workers, either way
        await still_talking(at_bob, at_carol, sdp("bob-hold"))
        await still_talking(at_carol, at_bob, sdp("carol-hold"))
        assert (await at_carol.request("INFO")).status == 200
        assert at_bob.requests[-1].method == "INFO"

        assert (await at_carol.bye()).status == 200
        await asyncio.wait_for(at_bob.ended.wait(), 5)
        await one.settle(lambda: calls(one, two) == [0, 0])
        await owner_becomes(redis, consult.invite.call_id, None)
        assert one.worker.b2bua.concurrent.active(account_id(one, "alice")) == 0
        # four phone legs and the inter-worker dialogue's leg on each worker, each once
        await one.settle(lambda: len(one.details()) == 6)
        details = one.details()
        assert len({d["leg_id"] for d in details}) == 6
        by_call = {}
        for detail in details:
            by_call.setdefault(detail["call_id"], []).append(detail)
        assert by_call[first.invite.call_id][0]["hangup_reason"] == "transferred"
        assert by_call[consult.invite.call_id][0]["hangup_reason"] == "replaced"
        hops = [leg for legs in by_call.values() if len(legs) == 2 for leg in legs]
        assert sorted(leg["worker_id"] for leg in hops) == [name(one), name(two)]


async def test_the_transfer_goes_on_when_the_transferor_hangs_up_both_calls_after_the_202(
    redis,
):
    async with workers(2) as (one, two):
        first, at_bob, consult, at_carol = await attended_across(one, two, "c")
        bob, carol = at_bob.phone, at_carol.phone
        await owner_becomes(redis, consult.invite.call_id, name(two))

        assert (await refer(first, replaces_uri(consult))).status == 202
        assert (await first.bye()).status == 200
        assert (await consult.bye()).status == 200

        record = await final_audit(one, "completed")
        assert record["final_status"] == 200
        await one.settle(lambda: talk(at_bob, at_carol))
        assert at_bob.remote_sdp == carol.answer_body and at_carol.remote_sdp == bob.answer_body
        assert not at_bob.ended.is_set() and not at_carol.ended.is_set()
        await still_talking(at_carol, at_bob, sdp("carol-2"))
        assert (await at_bob.bye()).status == 200
        await asyncio.wait_for(at_carol.ended.wait(), 5)
        await one.settle(lambda: calls(one, two) == [0, 0])


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("unknown", 481, "Replaced dialogue does not exist"),
        ("early-only", 486, "Replaced dialogue is already answered"),
        ("other account", 403, "Replaced dialogue belongs to another account"),
        ("ringing", 501, "Ringing calls on another worker cannot be taken over"),
    ],
)
async def test_rfc_3891_rejections_across_workers_come_before_the_202(redis, case, status, reason):
    async with workers(2) as (one, two):
        use_policy(one, "p", "bob", "carol", "dave")
        bob, carol, dave = await one.phone("bob"), await one.phone("carol"), await one.phone("dave")
        alice = await one.phone("alice")
        first, at_bob = await on_worker(one, alice, bob, sdp("alice-bob"))
        consult = None
        if case == "unknown":
            refer_to = f"<sip:carol@{DOMAIN}?Replaces=nosuchcall%3Bto-tag%3Dx%3Bfrom-tag%3Dy>"
        elif case == "other account":
            others, _ = await on_worker(two, dave, carol, sdp("dave-carol"))
            await owner_becomes(redis, others.invite.call_id, name(two))
            refer_to = replaces_uri(others)
        elif case == "ringing":
            carol.mode = "ring"
            alice.server = two.addresses["udp"]
            consult = await alice.call(f"sip:carol@{DOMAIN}", body=sdp("alice-carol"), wait=False)
            await asyncio.wait_for(consult.ringing.wait(), 5)
            await owner_becomes(redis, consult.invite.call_id, name(two))
            refer_to = replaces_uri(consult)
        else:
            consult, _ = await on_worker(two, alice, carol, sdp("alice-carol"))
            await owner_becomes(redis, consult.invite.call_id, name(two))
            refer_to = replaces_uri(consult, early_only=True)

        await refer_is_rejected(one, first, at_bob, refer_to, status, reason)

        assert calls(one, two) == [1, 0 if case == "unknown" else 1]


# blind -----------------------------------------------------------------------------------------


async def test_a_tr_c_blind_transfer_joins_parties_registered_on_three_workers(redis):
    async with workers(3) as (one, two, three):
        use_policy(one, "c", "bob")
        one.directory.add_dialplan(1, "transfer", TRANSFER_DIALPLAN)
        alice = await one.phone("alice")
        bob = await two.phone("bob")
        carol = await three.phone("carol")
        first, at_bob = await on_worker(one, alice, bob, sdp("alice-bob"))

        assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202

        placed = await asyncio.wait_for(carol.incoming.get(), 10)
        await asyncio.wait_for(first.ended.wait(), 10)
        assert notified(first)[0] == 100 and notified(first)[-1] == 200
        assert placed.invite.body == b""
        assert invites(at_bob) == [carol.answer_body]
        await one.settle(lambda: placed.ack is not None)
        assert placed.ack.body == bob.answer_body
        assert talk(at_bob, placed)
        record = await final_audit(one, "completed")
        assert (record["kind"], record["policy"]) == ("blind", "c")
        await still_talking(placed, at_bob, sdp("carol-2"))
        assert (await at_bob.bye()).status == 200
        await asyncio.wait_for(placed.ended.wait(), 5)
        await one.settle(lambda: calls(one, two, three) == [0, 0, 0])


# the pieces --------------------------------------------------------------------------------------


def takeover_invite() -> Request:
    return Request(
        "INVITE",
        "sip:transfer@127.0.0.1:5060;transport=udp",
        [
            ("From", "<sip:bob@example.test>;tag=a1"),
            ("To", "<sip:carol@example.test>"),
            ("Call-ID", "x1@test"),
            ("CSeq", "1 INVITE"),
            ("Replaces", "c1@test;to-tag=t;from-tag=f"),
        ],
    )


def test_a_takeover_stamp_binds_the_replaces_and_the_customer():
    signer = TakeoverSigner(SECRET)
    invite = takeover_invite()
    signer.sign(invite, worker_id="sip-1", account_id=7, customer_id=None, now=time.time())
    verified = signer.verify(invite, now=time.time())
    assert verified is not None
    assert (verified.worker_id, verified.account_id, verified.customer_id) == ("sip-1", 7, None)
    assert signer.verify(takeover_invite(), now=time.time()) is None

    moved = takeover_invite()
    moved.headers.set("Replaces", "other@test;to-tag=t;from-tag=f")
    moved.headers.set(TAKEOVER_HEADER, invite.headers.get(TAKEOVER_HEADER) or "")
    with pytest.raises(ClusterError, match="bad signature"):
        signer.verify(moved, now=time.time())
    forged = takeover_invite()
    forged.headers.set(
        TAKEOVER_HEADER,
        (invite.headers.get(TAKEOVER_HEADER) or "").replace("account=7", "account=8"),
    )
    with pytest.raises(ClusterError, match="bad signature"):
        signer.verify(forged, now=time.time())
    with pytest.raises(ClusterError, match="too old"):
        signer.verify(invite, now=time.time() + 3600)
    with pytest.raises(ClusterError, match="bad signature"):
        TakeoverSigner(b"another-secret-0123456789").verify(invite, now=time.time())


def test_dialogue_descriptions_survive_the_trip_and_bad_ones_are_refused():
    info = DialogueInfo(
        call_id="c1",
        local_tag="l",
        remote_tag="r",
        state=DialogueState.CONFIRMED,
        method="INVITE",
        account_id=3,
        customer_id=None,
        worker_id="sip-2",
        far_end_sdp=b"v=0\r\n\xff",
        far_end_owned_call_id=False,
    )
    assert decode_info(encode_info(info)) == info
    assert decode_info(encode_info(None)) is None
    for raw in (b"nonsense", b'{"found": true}', encode_info(info).replace("confirmed", "odd")):
        with pytest.raises(ClusterError):
            decode_info(raw)


TRANSFEROR = Transferor(
    account_id=1,
    customer_id=None,
    cross_account_allowed=True,
    call_id="c0",
    local_tag="a",
    remote_tag="b",
)


def test_dialogue_questions_survive_the_trip_and_bad_ones_are_refused():
    replaces = Replaces("c1@test", "t", "f", early_only=True)
    assert decode_question(encode_question("key", replaces, TRANSFEROR)) == (
        "key",
        replaces,
        TRANSFEROR,
    )
    broken = encode_question("key", replaces, TRANSFEROR).replace("to-tag", "tag")
    for raw in (b"[]", broken, b'{"reply": "key"}'):
        with pytest.raises(ClusterError):
            decode_question(raw)


async def test_a_question_nobody_answers_times_out(redis):
    asking = RemoteDialogues(redis, PEEK, timeout=0.2)
    absent = WorkerInfo(worker_id="gone", transport="udp", host="127.0.0.1", port=9)
    with pytest.raises(ClusterError, match="did not describe"):
        await asking.describe(absent, Replaces("c1", "l", "r"), TRANSFEROR)


@pytest.mark.parametrize(
    ("secret", "customer_id", "reason"),
    [
        (b"not-the-platform-secret-0123", 1, "Invalid takeover stamp"),
        (SECRET, 2, "Replaced dialogue belongs to another customer"),
    ],
)
async def test_a_takeover_not_vouched_for_is_refused_and_changes_nothing(
    redis, secret, customer_id, reason
):
    async with workers(2) as (one, two):
        bob, carol = await one.phone("bob"), await one.phone("carol")
        alice = await one.phone("alice")
        consult, at_carol = await on_worker(two, alice, carol, sdp("alice-carol"))
        dialog_id = consult.dialog.id
        replaces = Replaces(dialog_id.call_id, dialog_id.remote_tag, dialog_id.local_tag)
        server = two.addresses["udp"]
        invite = Request(
            "INVITE",
            f"sip:transfer@{server.hostport}",
            [
                ("Max-Forwards", "70"),
                ("From", f"<sip:bob@{DOMAIN}>;tag={new_tag()}"),
                ("To", f"<sip:carol@{DOMAIN}>"),
                ("Call-ID", new_call_id()),
                ("CSeq", "1 INVITE"),
                ("Contact", bob.contact),
                ("Replaces", str(replaces)),
                ("Content-Type", "application/sdp"),
            ],
            sdp("bob"),
        )
        TakeoverSigner(secret).sign(
            invite, worker_id="sip-1", account_id=None, customer_id=customer_id, now=time.time()
        )

        response = await bob.endpoint.send_request(invite, server)

        assert (response.status, response.reason) == (403, reason)
        await still_talking(consult, at_carol, sdp("alice-carol-2"))
        assert invites(at_carol) == [sdp("alice-carol-2")]
        assert calls(one, two) == [0, 1]
