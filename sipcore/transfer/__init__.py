"""Call transfer (REFER) under the ``tr`` policy: sans-I/O, driven by the B2BUA.

``read_refer`` reads a REFER; ``TransferProcess`` takes it from there (policy, RFC 3891
matching, pre-acceptance checks, the implicit subscription, the re-INVITEs, the audit record
and the live events) and returns ``sipcore.transfer.actions`` for the B2BUA to execute. The
semantics are TRANSFER.md's; the state tables are in ``sipcore.transfer.tables``.
"""

from sipcore.transfer.actions import Action, Input, Leg
from sipcore.transfer.checks import TRANSFER_DIALPLAN, PlaceCallFacts, judge_place_call
from sipcore.transfer.policy import (
    Decision,
    TransferPolicyError,
    call_policy,
    decide,
    resolve_policy,
)
from sipcore.transfer.process import CallFacts, TransferProcess
from sipcore.transfer.refer import ReferRequest, Refusal, TransferKind, read_refer
from sipcore.transfer.replaces import (
    DialogueInfo,
    DialogueLookup,
    DialogueState,
    Transferor,
    find_replaced,
    judge_replaces,
)
from sipcore.transfer.subscription import Notifier, read_notify

__all__ = [
    "TRANSFER_DIALPLAN",
    "Action",
    "CallFacts",
    "Decision",
    "DialogueInfo",
    "DialogueLookup",
    "DialogueState",
    "Input",
    "Leg",
    "Notifier",
    "PlaceCallFacts",
    "ReferRequest",
    "Refusal",
    "TransferKind",
    "TransferPolicyError",
    "TransferProcess",
    "Transferor",
    "call_policy",
    "decide",
    "find_replaced",
    "judge_place_call",
    "judge_replaces",
    "read_notify",
    "read_refer",
    "resolve_policy",
]
