"""RFC 3261 §17 transactions (with RFC 6026), sans-I/O with an injected clock.

API (see each class's docstring):

- ``TimerConfig(t1=0.5, t2=4.0, t4=5.0, timer_d=32.0)``: frozen timer settings.
- ``ClientTransaction.create(request, *, reliable, now, config) -> (txn, actions)``;
  ``txn.receive(response, now)``.
- ``ServerTransaction.create(request, *, reliable, now, config) -> (txn, actions)``;
  ``txn.receive(request, now)`` (retransmissions, ACK); ``txn.respond(response, now)``.
- Every transaction: ``next_deadline()``, ``on_timer(now)``, ``on_transport_error(now)``,
  ``state``, ``terminated``.
- Actions: ``SendMessage``, ``DeliverResponse``, ``DeliverRequest``, ``TimedOut``,
  ``TransportError``, ``Terminated``.
- ``TransactionLayer``: matching, CANCEL lookup, timer scheduling, returning ``Dispatch``es.
- ``build_cancel(invite)``: the CANCEL for a pending request (§9.1).
"""

from sipcore.transaction.actions import (
    Action,
    DeliverRequest,
    DeliverResponse,
    SendMessage,
    Terminated,
    TimedOut,
    TransportError,
)
from sipcore.transaction.building import build_cancel
from sipcore.transaction.client import (
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from sipcore.transaction.layer import Dispatch, TransactionLayer, client_key, server_key
from sipcore.transaction.server import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
)
from sipcore.transaction.tables import State
from sipcore.transaction.timers import Timer, TimerConfig

__all__ = [
    "Action",
    "ClientTransaction",
    "DeliverRequest",
    "DeliverResponse",
    "Dispatch",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "SendMessage",
    "ServerTransaction",
    "State",
    "Terminated",
    "TimedOut",
    "Timer",
    "TimerConfig",
    "TransactionLayer",
    "TransportError",
    "build_cancel",
    "client_key",
    "server_key",
]
