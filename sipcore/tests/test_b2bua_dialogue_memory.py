"""The B2BUA's dialogue registry as RFC 3891 needs it: a dialogue it holds is described by
the call that owns it, one that ended is remembered as terminated for 32 seconds (so a
Replaces naming it gets 603, not 481), and then forgotten."""

from sipcore.b2bua.registry import ENDED_MEMORY, DialogRegistry
from sipcore.dialog import DialogId
from sipcore.transfer.replaces import DialogueInfo, DialogueState


class Owner:
    def describe(self, leg):
        return DialogueInfo(
            call_id=leg.id.call_id,
            local_tag=leg.id.local_tag,
            remote_tag=leg.id.remote_tag,
            state=DialogueState.CONFIRMED,
            method="INVITE",
            account_id=7,
            customer_id=1,
        )


class Leg:
    def __init__(self, dialog_id: DialogId, owner=None) -> None:
        self.id = dialog_id
        self.owner = owner


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_held_dialogue_is_described_by_its_call():
    registry = DialogRegistry()
    dialog_id = DialogId("c1", "ours", "theirs")
    registry.add(dialog_id, Leg(dialog_id, Owner()))
    info = registry.describe("c1", "ours", "theirs")
    assert info is not None and info.state is DialogueState.CONFIRMED and info.account_id == 7
    assert registry.describe("c1", "theirs", "ours") is None


def test_an_ended_dialogue_is_remembered_as_terminated_then_forgotten():
    clock = Clock()
    registry = DialogRegistry(clock)
    dialog_id = DialogId("c1", "ours", "theirs")
    registry.add(dialog_id, Leg(dialog_id, Owner()))
    registry.remove(dialog_id)
    clock.now += ENDED_MEMORY - 1
    info = registry.describe("c1", "ours", "theirs")
    assert info is not None and info.state is DialogueState.TERMINATED and info.account_id == 7
    clock.now += 2
    assert registry.describe("c1", "ours", "theirs") is None


def test_a_dialogue_no_call_owns_is_nobodys_to_replace():
    registry = DialogRegistry()
    dialog_id = DialogId("c1", "ours", "theirs")
    registry.add(dialog_id, Leg(dialog_id))
    assert registry.describe("c1", "ours", "theirs") is None
    registry.remove(dialog_id)
    assert registry.describe("c1", "ours", "theirs") is None


def test_a_dialogue_ended_again_is_remembered_from_its_last_end():
    clock = Clock()
    registry = DialogRegistry(clock)
    dialog_id = DialogId("c1", "ours", "theirs")
    registry.add(dialog_id, Leg(dialog_id, Owner()))
    registry.remove(dialog_id)
    clock.now += ENDED_MEMORY / 2
    registry.add(dialog_id, Leg(dialog_id, Owner()))
    registry.remove(dialog_id)
    clock.now += ENDED_MEMORY / 2 + 1
    info = registry.describe("c1", "ours", "theirs")
    assert info is not None and info.state is DialogueState.TERMINATED
    clock.now += ENDED_MEMORY / 2
    assert registry.describe("c1", "ours", "theirs") is None


def test_ended_dialogues_are_forgotten_oldest_first_and_only_when_due():
    clock = Clock()
    registry = DialogRegistry(clock)
    ids = [DialogId(f"c{n}", "ours", "theirs") for n in range(1000)]
    for dialog_id in ids:
        registry.add(dialog_id, Leg(dialog_id, Owner()))
        registry.remove(dialog_id)
        clock.now += ENDED_MEMORY / 1000
    assert registry.describe("c0", "ours", "theirs") is None
    assert registry.describe("c999", "ours", "theirs") is not None
    clock.now += ENDED_MEMORY
    assert all(registry.describe(i.call_id, "ours", "theirs") is None for i in ids)
    assert len(registry._ended) == 0
