"""Property tests: whatever the network does, transactions stay within the tables.

Any order of responses, retransmissions, ACKs, losses and timer firings must
never raise, must never pass a retransmission up twice, and must end in
Terminated once the clock runs out (after a final response).
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from sipcore.transaction import (
    ClientTransaction,
    DeliverRequest,
    DeliverResponse,
    ServerTransaction,
    State,
    Terminated,
)
from sipcore.transaction.testing import make_reply, make_request, run_timers

FOREVER = 10_000.0
statuses = st.sampled_from([100, 180, 183, 200, 202, 302, 404, 486, 500, 603])
steps = st.lists(st.tuples(st.floats(0.0, 40.0), statuses), max_size=12)


@settings(max_examples=150, deadline=None)
@given(method=st.sampled_from(["INVITE", "OPTIONS"]), reliable=st.booleans(), script=steps)
def test_client_transaction_survives_any_response_sequence(method, reliable, script):
    request = make_request(method)
    txn, _ = ClientTransaction.create(request, reliable=reliable, now=0.0)
    now, finals, delivered = 0.0, 0, []
    for delay, status in script:
        run_timers(txn, until=now + delay)
        now += delay
        if txn.terminated:
            break
        actions = txn.receive(make_reply(request, status, to_tag="bob"), now)
        delivered += [a.response.status for a in actions if isinstance(a, DeliverResponse)]
        finals += status >= 200
    run_timers(txn, until=now + FOREVER)

    non_2xx_finals = [s for s in delivered if s >= 300]
    assert len(non_2xx_finals) <= 1
    if finals or txn.state is State.CALLING or method != "INVITE":
        assert txn.terminated


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["INVITE", "REGISTER"]),
    reliable=st.booleans(),
    final=st.sampled_from([200, 404, 486]),
    script=st.lists(
        st.tuples(st.floats(0.0, 40.0), st.sampled_from(["request", "ack", "1xx", "final"])),
        max_size=12,
    ),
)
def test_server_transaction_survives_any_peer_and_a_well_behaved_tu(
    method, reliable, final, script
):
    request = make_request(method)
    txn, actions = ServerTransaction.create(request, reliable=reliable, now=0.0)
    deliveries = len(actions)
    now, answered = 0.0, False
    ack = make_request("ACK", branch=request.top_via.branch, to_tag="bob")
    for delay, event in script:
        run_timers(txn, until=now + delay)
        now += delay
        if txn.terminated:
            break
        if event == "request":
            actions = txn.receive(request, now)
        elif event == "ack" and method == "INVITE":
            actions = txn.receive(ack, now)
        elif event == "1xx" and not answered:
            actions = txn.respond(make_reply(request, 180, to_tag="bob"), now)
        elif event == "final" and not answered:
            answered = True
            actions = txn.respond(make_reply(request, final, to_tag="bob"), now)
        else:
            actions = []
        deliveries += sum(
            isinstance(a, DeliverRequest) and a.request.method != "ACK" for a in actions
        )
    if not txn.terminated and not answered:
        txn.respond(make_reply(request, final, to_tag="bob"), now)
    happened = run_timers(txn, until=now + FOREVER)

    assert deliveries == 1
    assert txn.terminated
    assert not happened or happened[-1][1] == Terminated()
