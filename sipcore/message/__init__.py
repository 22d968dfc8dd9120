"""SIP messages: parse, inspect lazily, build and serialise (RFC 3261 §7, §18.3, §20, §25).

``parse_message`` turns a datagram or a framed stream message into a
``Request`` or ``Response``; ``StreamFramer`` frames TCP streams; typed
accessors (``.vias``, ``.from_addr``, ``.cseq``, ``.contacts``, ...) parse
header values on first use. Only ``ParseError`` ever escapes the parser.
"""

from sipcore.message.address import Address
from sipcore.message.errors import ParseError
from sipcore.message.framing import StreamFramer
from sipcore.message.headers import Headers
from sipcore.message.ids import new_branch, new_call_id, new_tag
from sipcore.message.message import Message, Request, Response
from sipcore.message.parser import MAX_MESSAGE_SIZE, parse_message
from sipcore.message.response import make_response, reason_phrase
from sipcore.message.uri import URI
from sipcore.message.values import CSeq, Event, Replaces, SubscriptionState
from sipcore.message.via import Via

__all__ = [
    "MAX_MESSAGE_SIZE",
    "URI",
    "Address",
    "CSeq",
    "Event",
    "Headers",
    "Message",
    "ParseError",
    "Replaces",
    "Request",
    "Response",
    "StreamFramer",
    "SubscriptionState",
    "Via",
    "make_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse_message",
    "reason_phrase",
]
