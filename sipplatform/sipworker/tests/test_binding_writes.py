"""Bindings written in batches (group commit): what waits together commits together, in
order, and a bad write fails only its own caller."""

from __future__ import annotations

import asyncio

import pytest

from sipplatform.customers.services import create_customer
from sipplatform.directory.models import Binding, SIPAccount
from sipplatform.directory.services import create_sip_account
from sipplatform.sipworker import directory as directory_module
from sipplatform.sipworker.binding_writes import BatchedWrites
from sipplatform.sipworker.directory import DjangoDirectory
from sipplatform.sipworker.tests.test_django_directory import NOW, binding, in_db


class Recorder:
    """A ``commit`` that records each batch, holding the first until told to go on."""

    def __init__(self, *, bad: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.bad = bad
        self.go_on = asyncio.Event()

    async def commit(self, writes: list[str]) -> None:
        self.batches.append(list(writes))
        if len(self.batches) == 1:
            await self.go_on.wait()
        if self.bad in writes:
            raise ValueError(f"cannot write {self.bad}")


async def test_writes_asked_for_during_a_commit_form_the_next_batch_in_order():
    recorder = Recorder()
    writes = BatchedWrites(recorder.commit)

    first = asyncio.create_task(writes.write("a"))
    await asyncio.sleep(0)
    later = [asyncio.create_task(writes.write(name)) for name in "bcd"]
    await asyncio.sleep(0)
    recorder.go_on.set()
    await asyncio.gather(first, *later)

    assert recorder.batches == [["a"], ["b", "c", "d"]]


async def test_a_failing_batch_is_retried_one_write_at_a_time():
    recorder = Recorder(bad="c")
    writes = BatchedWrites(recorder.commit)

    first = asyncio.create_task(writes.write("a"))
    await asyncio.sleep(0)
    later = {name: asyncio.create_task(writes.write(name)) for name in "bcd"}
    await asyncio.sleep(0)
    recorder.go_on.set()
    await first

    await later["b"]
    await later["d"]
    with pytest.raises(ValueError, match="cannot write c"):
        await later["c"]
    assert recorder.batches == [["a"], ["b", "c", "d"], ["b"], ["c"], ["d"]]


async def test_a_caller_that_gives_up_does_not_stop_the_others():
    recorder = Recorder()
    writes = BatchedWrites(recorder.commit)

    first = asyncio.create_task(writes.write("a"))
    await asyncio.sleep(0)
    impatient = asyncio.create_task(writes.write("b"))
    patient = asyncio.create_task(writes.write("c"))
    await asyncio.sleep(0)
    impatient.cancel()
    recorder.go_on.set()
    await asyncio.gather(first, patient)

    assert recorder.batches == [["a"], ["b", "c"]]
    assert writes._committing is None


@pytest.mark.django_db(transaction=True)
async def test_a_storm_of_registrations_commits_in_few_transactions(monkeypatch):
    """Forty accounts saving three contacts each at once: every binding written, each
    account's oldest evicted, in a handful of commits rather than 120. Then one account is
    deleted: its saves fail alone and the others of their batch are written."""

    def accounts() -> list[int]:
        customer = create_customer("Storm")
        return [
            create_sip_account(customer, f"user{index}", password="Sesame-Open-42")[0].pk
            for index in range(40)
        ]

    ids = await in_db(accounts)
    batches: list[int] = []
    real = directory_module.write_bindings

    def counted(writes):
        batches.append(len(writes))
        return real(writes)

    monkeypatch.setattr(directory_module, "write_bindings", counted)
    directory = DjangoDirectory(threads=2, clock=lambda: NOW)

    async def storm(contacts: tuple[str, ...]) -> list[object]:
        saves = [
            directory.save_binding(
                binding(account_id, f"sip:{contact}@192.0.2.10", NOW + 60), max_bindings=2, now=NOW
            )
            for contact in contacts
            for account_id in ids
        ]
        return await asyncio.gather(*saves, return_exceptions=True)

    def kept() -> list[tuple[str]]:
        rows = Binding.objects.filter(account_id__in=ids).values_list("contact_uri")
        return sorted(rows)

    try:
        first = await storm(("one", "two", "three"))
        assert not [outcome for outcome in first if isinstance(outcome, Exception)]
        assert len(batches) <= 5
        assert await in_db(kept) == sorted(
            [("sip:two@192.0.2.10",), ("sip:three@192.0.2.10",)] * 40
        )

        await in_db(SIPAccount.objects.filter(pk=ids[-1]).delete)
        outcomes = await storm(("four",))
    finally:
        await directory.close()

    assert [isinstance(o, Exception) for o in outcomes] == [False] * 39 + [True]
    # Each save returns its account's bindings as they stand after its batch.
    assert [b.contact_uri for b in outcomes[0]] == ["sip:four@192.0.2.10", "sip:three@192.0.2.10"]
    assert await in_db(kept) == sorted([("sip:three@192.0.2.10",), ("sip:four@192.0.2.10",)] * 39)
