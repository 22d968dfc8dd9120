"""The RFC 3261 §25 grammar as regular expressions, one source for checking and parsing.

The parser validates the headers every element needs (Via, From, To, CSeq, ...)
with the non-capturing forms of these patterns when a message arrives, and the
typed accessors build objects later with the capturing forms, so a value that
passed the first check always parses the second time.

Header values reach these patterns already unfolded (the parser drops the CRLF
of a fold and keeps its whitespace), so LWS here is spaces and tabs only.
Every repetition is written so that the regex engine cannot backtrack
catastrophically on hostile input: no nested quantifiers over character
classes that overlap.
"""

from __future__ import annotations

import re

# Possessive (Python 3.11+): whitespace once matched is never given back, so
# neighbouring optional whitespace cannot make the engine try every split of a
# long run of blanks (quadratic time on hostile input).
SWS = r"[ \t]*+"
LWS = r"[ \t]++"
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
# qdtext is any character but DQUOTE, backslash and controls other than HTAB
# (UTF-8 and the surrogate escapes of non-UTF-8 octets are kept); quoted-pair
# is a backslash before any ASCII octet except CR and LF.
_QDTEXT = r'[^"\\\x00-\x08\x0a-\x1f\x7f]'
_QUOTED_PAIR = r"\\[\x00-\x09\x0b\x0c\x0e-\x7f]"
QUOTED_STRING = rf'"{_QDTEXT}*(?:{_QUOTED_PAIR}{_QDTEXT}*)*"'
HEX2 = r"%[0-9A-Fa-f]{2}"


def _escaped_run(chars: str, *, allow_empty: bool = False) -> str:
    """A run of ``chars`` and %HH escapes, unrolled so it cannot backtrack badly."""
    run = rf"[{chars}]*(?:{HEX2}[{chars}]*)*"
    return run if allow_empty else rf"(?=[{chars}%]){run}"


_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
USER = _escaped_run(_UNRESERVED + r"&=+$,;?/")
# In the addr-spec form (no angle brackets) ';', '?' and ',' end the URI.
USER_BARE = _escaped_run(_UNRESERVED + r"&=+$/")
PASSWORD = _escaped_run(_UNRESERVED + r"&=+$,", allow_empty=True)
PASSWORD_BARE = _escaped_run(_UNRESERVED + r"&=+$", allow_empty=True)
HOSTNAME = r"[A-Za-z0-9_][A-Za-z0-9\-_.]*"
IPV6_REFERENCE = r"\[[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]"
IPV6_ADDRESS = r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*"
HOST = rf"(?:{IPV6_REFERENCE}|{HOSTNAME})"
PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_PARAMCHAR = _UNRESERVED + r"\[\]/:&+$"
_HNVCHAR = _UNRESERVED + r"\[\]/?:+$"
URI_PARAMS = rf"(?:;{_escaped_run(_PARAMCHAR)}(?:={_escaped_run(_PARAMCHAR)})?)*"
URI_HEADERS = (
    rf"{_escaped_run(_HNVCHAR)}={_escaped_run(_HNVCHAR, allow_empty=True)}"
    rf"(?:&{_escaped_run(_HNVCHAR)}={_escaped_run(_HNVCHAR, allow_empty=True)})*"
)
SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_TEL_NUMBER = r"[0-9A-Fa-f*#+\-.()]+"

_SIP_URI_NO_HEADERS = (
    rf"(?P<scheme>[Ss][Ii][Pp][Ss]?):"
    rf"(?:(?P<user>{USER})(?::(?P<password>{PASSWORD}))?@)?"
    rf"(?P<host>{HOST})(?::(?P<port>{PORT}))?"
    rf"(?P<params>{URI_PARAMS})"
)
SIP_URI = rf"{_SIP_URI_NO_HEADERS}(?:\?(?P<headers>{URI_HEADERS}))?"
TEL_URI = rf"(?P<scheme>[Tt][Ee][Ll]):(?P<user>{_TEL_NUMBER})(?P<params>{URI_PARAMS})"
_NOT_KNOWN_SCHEME = r"(?![Ss][Ii][Pp][Ss]?:|[Tt][Ee][Ll]:)"
OTHER_URI = rf"{_NOT_KNOWN_SCHEME}(?P<scheme>{SCHEME}):(?P<opaque>[^\s<>\"]+)"

SIP_URI_BARE = rf"[Ss][Ii][Pp][Ss]?:(?:{USER_BARE}(?::{PASSWORD_BARE})?@)?{HOST}(?::{PORT})?"
TEL_URI_BARE = rf"[Tt][Ee][Ll]:{_TEL_NUMBER}"
OTHER_URI_BARE = rf"{_NOT_KNOWN_SCHEME}{SCHEME}:[^\s<>\";,?]+"

_GROUP = re.compile(r"\(\?P<\w+>")


def uncaptured(pattern: str) -> str:
    """The same pattern with its named groups turned into plain groups, for composing."""
    return _GROUP.sub("(?:", pattern)


ANY_URI = rf"(?:{uncaptured(SIP_URI)}|{uncaptured(TEL_URI)}|{uncaptured(OTHER_URI)})"
# RFC 3261 §19.1.1: a Request-URI never carries ``?headers``.
REQUEST_URI = (
    rf"(?:{uncaptured(_SIP_URI_NO_HEADERS)}|{uncaptured(TEL_URI)}|{uncaptured(OTHER_URI)})"
)
BARE_URI = rf"(?:{SIP_URI_BARE}|{TEL_URI_BARE}|{OTHER_URI_BARE})"

GEN_VALUE = rf"(?:{IPV6_ADDRESS}|{TOKEN}|{IPV6_REFERENCE}|{QUOTED_STRING})"
GENERIC_PARAMS = rf"(?:{SWS};{SWS}{TOKEN}(?:{SWS}={SWS}{GEN_VALUE})?)*"
DISPLAY_NAME = rf"(?:(?P<quoted>{QUOTED_STRING})|(?P<tokens>{TOKEN}(?:{LWS}{TOKEN})*))"

ADDRESS = (
    rf"{SWS}(?:{DISPLAY_NAME}?{SWS}<(?P<uri>{ANY_URI})>|(?P<bare>{BARE_URI}))"
    rf"(?P<params>{GENERIC_PARAMS}){SWS}"
)
NAME_ADDR = rf"{SWS}{DISPLAY_NAME}?{SWS}<(?P<uri>{ANY_URI})>(?P<params>{GENERIC_PARAMS}){SWS}"

VIA = (
    rf"{SWS}(?P<protocol>{TOKEN}){SWS}/{SWS}(?P<version>{TOKEN}){SWS}/{SWS}"
    rf"(?P<transport>{TOKEN}){LWS}(?P<host>{HOST})(?:{SWS}:{SWS}(?P<port>{PORT}))?"
    rf"(?P<params>{GENERIC_PARAMS}){SWS}"
)
# Enough of a Via to send a response back: used to decide whether a broken
# request can still be answered with 400.
VIA_SENT_BY = rf"{SWS}{TOKEN}{SWS}/{SWS}{TOKEN}{SWS}/{SWS}{TOKEN}{LWS}{HOST}"

CSEQ = rf"{SWS}(?P<seq>[0-9]+){LWS}(?P<method>{TOKEN}){SWS}"
CALL_ID = rf"{SWS}{WORD}(?:@{WORD})?{SWS}"
REPLACES = rf"(?P<call_id>{CALL_ID})(?P<params>{GENERIC_PARAMS}){SWS}"
EVENT = rf"{SWS}(?P<package>{TOKEN})(?P<params>{GENERIC_PARAMS}){SWS}"
NUMBER = rf"{SWS}[0-9]+{SWS}"
RFC1123_DATE = (
    rf"{SWS}(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{{2}} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    rf"[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}} GMT{SWS}"
)
COMMA = rf"{SWS},{SWS}"


def comma_list(item: str) -> str:
    """``item *(COMMA item)`` with the item's named groups removed."""
    plain = uncaptured(item)
    return rf"{plain}(?:,{plain})*"


PARAM_ITEM = re.compile(
    rf"{SWS};{SWS}(?P<name>{TOKEN})(?:{SWS}={SWS}(?P<value>{GEN_VALUE}))?",
)
TOKEN_RE = re.compile(TOKEN)
