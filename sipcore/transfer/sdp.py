"""The one session description the transfer code writes itself.

When a blind transfer's target has answered with an offer (its INVITE carried none, RFC 3725
flow I) and the transferee then refuses the re-INVITE, the target's 2xx must still be
acknowledged with an answer before the BYE. ``declined_answer`` is that answer: every
media stream of the offer refused with port 0 (RFC 3264 §6).
"""

from __future__ import annotations

_KEPT = ("v=", "o=", "s=", "c=", "t=")


def declined_answer(offer: bytes) -> bytes:
    """An answer to ``offer`` declining all of its media streams."""
    lines = offer.decode("utf-8", "replace").splitlines()
    answer = []
    for line in lines:
        if line.startswith(_KEPT):
            answer.append(line)
        elif line.startswith("m="):
            media, _, rest = line[2:].partition(" ")
            _, _, formats = rest.partition(" ")
            answer.append(f"m={media} 0 {formats}".rstrip())
    return ("\r\n".join(answer) + "\r\n").encode() if answer else b""
