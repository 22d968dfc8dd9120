"""Branches, tags and Call-IDs: the right shape, and never the same twice (across threads
and across a fork too, although they are cut from a buffered block of random bytes)."""

from __future__ import annotations

import os
import re
import threading

from sipcore.message import new_branch, new_call_id, new_tag


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
