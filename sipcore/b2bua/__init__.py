"""The back-to-back user agent: every call is two (or more) dialogues bridged.

``B2bua`` takes the worker's INVITE, CANCEL, ACK and in-dialogue traffic; ``Call`` bridges
an ``InboundLeg`` (the caller) to the ``OutboundLeg`` that answered, in two generic slots a
transfer re-pairs (``CallTransfers``); ``Fork`` rings dial string groups;
``DialogRegistry`` finds any dialogue by (Call-ID, local tag, remote tag).
"""

from sipcore.b2bua.app import B2bua, B2buaConfig
from sipcore.b2bua.call import Call
from sipcore.b2bua.forking import Fork, Target
from sipcore.b2bua.leg import InboundLeg, Leg, OutboundLeg
from sipcore.b2bua.registry import DialogRegistry

__all__ = [
    "B2bua",
    "B2buaConfig",
    "Call",
    "DialogRegistry",
    "Fork",
    "InboundLeg",
    "Leg",
    "OutboundLeg",
    "Target",
]
