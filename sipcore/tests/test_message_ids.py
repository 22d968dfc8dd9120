"""Branches, tags and Call-IDs: the right shape, and never the same twice (across threads
and across a fork too, although they are cut from a buffered block of random bytes)."""

from __future__ import annotations

import os
import random
import re
import threading

from sipcore.auth.nonce import NonceSigner
from sipcore.message import new_branch, new_call_id, new_tag
from sipcore.message.ids import random_bytes


def test_identifiers_have_their_rfc_3261_shape():
    assert re.fullmatch(r"z9hG4bK[0-9a-f]{24}", new_branch())
    assert re.fullmatch(r"[0-9a-f]{16}", new_tag())
    assert re.fullmatch(r"[0-9a-f]{32}@host\.test", new_call_id("host.test"))
    assert re.fullmatch(r"[0-9a-f]{32}", new_call_id())


def test_identifiers_never_repeat_within_or_across_threads():
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(new_tag() for _ in range(20_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [tag for into in drawn for tag in into]
    assert len(set(everything)) == len(everything) == 80_000


def test_a_forked_child_does_not_repeat_its_parents_identifiers():
    new_tag()  # the parent now holds a partly used block
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, " ".join(new_tag() for _ in range(10)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        child = set(pipe.read().split())
    parent = {new_tag() for _ in range(10)}
    assert len(child) == 10
    assert not child & parent


def test_nonce_salts_come_from_the_buffered_block(monkeypatch):
    """Minting a digest nonce makes no system call of its own: each ``os.urandom`` gives up
    the GIL, and under load the loop then waited for the database threads to hand it back."""
    signer = NonceSigner(b"0123456789abcdef0123456789abcdef")
    signer.mint("realm.test", now=1.0)
    reads: list[int] = []
    real_urandom = os.urandom

    def counted(size: int) -> bytes:
        reads.append(size)
        return real_urandom(size)

    monkeypatch.setattr(os, "urandom", counted)
    monkeypatch.setattr(random, "_urandom", counted)  # what ``secrets`` reads through
    nonces = {signer.mint("realm.test", now=1.0) for _ in range(200)}
    assert len(nonces) == 200
    assert len(reads) <= 1
    assert len(random_bytes(16)) == 16
