"""Writing registrar bindings: in batches, one transaction each (group commit).

Every REGISTER writes its account's bindings, and a registration storm brings hundreds a
second. Committed one by one, each write cost a trip to a database thread, a transaction and
a version round trip to Redis, and the threads' Python work held the GIL away from the event
loop. So the writes asked for while one batch is in the database wait together and form the
next batch (``BatchedWrites``): a lone REGISTER waits no longer than before, and under load
they share one thread hop, one transaction and one Redis pipeline. The writes of a batch are
applied in the order they were asked for (``write_bindings``), so an account's writes keep
their order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from django.db import connection, transaction
from django.db.models import Subquery

from sipcore.directory import BindingRecord
from sipplatform.directory.models import Binding

W = TypeVar("W")
R = TypeVar("R")

BINDING_COLUMNS = (
    "account_id",
    "contact_uri",
    "transport",
    "received_host",
    "received_port",
    "expires_at",
    "user_agent",
    "instance_id",
    "call_id",
    "cseq",
    "worker_id",
)
_REFRESHED = [
    *(column for column in BINDING_COLUMNS if column not in ("account_id", "contact_uri")),
    "updated_at",
]


@dataclass(frozen=True, slots=True)
class SaveBinding:
    """Add or refresh a contact, then keep the account's ``max_bindings`` newest."""

    binding: BindingRecord
    max_bindings: int
    at: float
    """When it was asked for (Unix seconds): the newest are kept."""

    @property
    def account_id(self) -> int:
        return self.binding.account_id


@dataclass(frozen=True, slots=True)
class RemoveBinding:
    account_id: int
    contact_uri: str


@dataclass(frozen=True, slots=True)
class RemoveAllBindings:
    account_id: int


BindingWrite = SaveBinding | RemoveBinding | RemoveAllBindings


def to_datetime(unix_time: float) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)


def write_bindings(writes: Sequence[BindingWrite]) -> None:
    """Apply ``writes`` in order, in one transaction (on a database thread).

    Saves are ``INSERT ... ON CONFLICT DO UPDATE`` rather than ``update_or_create``: two
    workers refreshing the same contact at once must not collide on the unique constraint.
    """
    if connection.vendor == "postgresql":
        _write_sql(writes)
        return
    with transaction.atomic():
        for write in writes:
            _WRITE_ORM[type(write)](write)


def _write_sql(writes: Sequence[BindingWrite]) -> None:
    """``write_bindings`` on PostgreSQL: each run of one kind of write as one pipelined
    ``executemany``, then the eviction of every saved account in one statement, committed
    without waiting for the WAL flush.

    Bindings are soft state (every phone registers again within minutes), so the commit is
    asynchronous (``synchronous_commit = off``): it is visible to every worker at once and
    survives any worker restart; only a crash of the database server itself could lose the
    last fraction of a second of registrations. Waiting for the flush cost 10 to 20 ms per
    REGISTER on this machine and capped a worker at a few hundred registrations a second.
    """
    keep: dict[int, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        for kind, run in itertools.groupby(writes, key=type):
            statement, parameters = _SQL[kind]
            cursor.executemany(statement, [parameters(write) for write in run])
        for write in writes:
            if isinstance(write, SaveBinding):
                keep[write.account_id] = max(write.max_bindings, 1)
        if keep:
            cursor.execute(_EVICT_BINDINGS, [list(keep), list(keep.values())])


_TABLE = Binding._meta.db_table
_UPSERT_BINDING = (
    f"INSERT INTO {_TABLE} ({', '.join(BINDING_COLUMNS)}, updated_at) "
    f"VALUES ({', '.join(['%s'] * (len(BINDING_COLUMNS) + 1))}) "
    "ON CONFLICT (account_id, contact_uri) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in _REFRESHED)
)
_EVICT_BINDINGS = (
    f"DELETE FROM {_TABLE} WHERE id IN ("
    "SELECT id FROM ("
    "SELECT b.id, keep.count, row_number() OVER ("
    "PARTITION BY b.account_id ORDER BY b.updated_at DESC, b.id DESC) AS position "
    f"FROM {_TABLE} b JOIN unnest(%s::bigint[], %s::integer[]) AS keep(account_id, count) "
    "ON keep.account_id = b.account_id"
    ") ranked WHERE ranked.position > ranked.count)"
)


def _save_values(write: SaveBinding) -> list[object]:
    binding = write.binding
    return [
        binding.account_id,
        binding.contact_uri,
        binding.transport,
        binding.received_host,
        binding.received_port,
        to_datetime(binding.expires_at),
        binding.user_agent[:255],
        binding.instance_id[:255],
        binding.call_id[:255],
        binding.cseq,
        binding.worker_id[:64],
        to_datetime(write.at),
    ]


_SQL: dict[type, tuple[str, Callable]] = {
    SaveBinding: (_UPSERT_BINDING, _save_values),
    RemoveBinding: (
        f"DELETE FROM {_TABLE} WHERE account_id = %s AND contact_uri = %s",
        lambda write: [write.account_id, write.contact_uri],
    ),
    RemoveAllBindings: (
        f"DELETE FROM {_TABLE} WHERE account_id = %s",
        lambda write: [write.account_id],
    ),
}


def _save_orm(write: SaveBinding) -> None:
    row = Binding(
        **dict(zip(BINDING_COLUMNS, _save_values(write), strict=False)),
        updated_at=to_datetime(write.at),
    )
    Binding.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["account", "contact_uri"],
        update_fields=_REFRESHED,
    )
    newest_first = Binding.objects.filter(account_id=write.account_id).order_by(
        "-updated_at", "-pk"
    )
    evicted = newest_first.values("pk")[max(write.max_bindings, 1) :]
    Binding.objects.filter(pk__in=Subquery(evicted)).delete()


_WRITE_ORM: dict[type, Callable] = {
    SaveBinding: _save_orm,
    RemoveBinding: lambda write: Binding.objects.filter(
        account_id=write.account_id, contact_uri=write.contact_uri
    ).delete(),
    RemoveAllBindings: lambda write: Binding.objects.filter(account_id=write.account_id).delete(),
}


class BatchedWrites(Generic[W, R]):
    """Hands writes to ``commit`` in batches: those asked for while a batch is being
    committed form the next one, so at most one batch is in the database at a time.

    ``commit`` applies a whole batch and returns what each of its writers gets back, or
    raises; a batch that fails is committed again one write at a time, so a bad write (its
    account deleted meanwhile) fails only its caller.
    """

    def __init__(self, commit: Callable[[list[W]], Awaitable[R]]) -> None:
        self._commit = commit
        self._waiting: list[tuple[W, asyncio.Future[R]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def write(self, item: W) -> R:
        """Return what committing ``item``'s batch returned; raise what committing it raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, done))
        if self._committing is None:
            self._committing = loop.create_task(self._commit_waiting(), name="binding-writes")
        return await done

    async def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    result = await self._commit([item for item, _ in batch])
                except Exception as error:
                    if len(batch) == 1:
                        _settle(batch[0][1], error=error)
                        continue
                    for item, done in batch:
                        await self._commit_alone(item, done)
                else:
                    for _, done in batch:
                        _settle(done, result)
        finally:
            self._committing = None

    async def _commit_alone(self, item: W, done: asyncio.Future[R]) -> None:
        try:
            result = await self._commit([item])
        except Exception as error:
            _settle(done, error=error)
        else:
            _settle(done, result)


def _settle(
    done: asyncio.Future[R], result: R | None = None, *, error: Exception | None = None
) -> None:
    if done.done():  # its caller gave up waiting; the write stands all the same
        return
    if error is None:
        done.set_result(result)  # type: ignore[arg-type]
    else:
        done.set_exception(error)
