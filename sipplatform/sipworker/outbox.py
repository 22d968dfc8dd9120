"""The SIP worker's durable outbox: records on local disk until the broker has accepted them.

A call detail or transfer audit record is what the operator bills from, so the worker never
holds one only for long in memory: a thread writes each to a SQLite file of the worker's own
(``var/outbox-<worker_id>.sqlite3``, WAL, fsynced) and deletes it only once its batch was
handed to Celery (the broker accepted the message; in the embedded default, the rows were
written). A crash between the hand-over and the delete sends the record again on the next
attempt; the writers are idempotent (upserts keyed on ``leg_id`` / ``transfer_id``), so a
duplicate changes nothing.

The file is bounded (``max_rows``): when the broker stays away so long that it fills, further
records are refused with a critical log instead of filling the disk. A file is held with an
exclusive ``flock`` by the process using it, so a worker starting up can adopt the rows of a
predecessor that died (SIGKILL, crash) under another worker id: the lock is free once its
owner is gone.

``OutboxCourier`` runs it: one thread stores what the worker hands over (so a record is on
disk within ``RECORD_LINGER`` seconds whatever the network does), another delivers the stored
rows oldest first, and waits (``FIRST_RETRY_DELAY`` doubling up to ``MAX_RETRY_DELAY``) after
a failure: a broker that hangs or refuses holds up the delivery, never the storing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 500_000
"""About half a gigabyte of call records: days of a busy worker's calls without a broker."""
REFUSED_LOG_EVERY = 1000
ADOPT_BATCH = 1000
MAX_RECORD_BATCH = 200
RECORD_LINGER = 0.05
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 10.0
"""Back-off between delivery attempts while the broker is away: at most this long after it
returns, the records waiting on disk go out."""
FILE_PREFIX = "outbox-"
FILE_SUFFIX = ".sqlite3"

Record = tuple[str, dict[str, Any]]


def outbox_path(var_dir: Path, worker_id: str) -> Path:
    """The outbox file of ``worker_id`` in ``var_dir``."""
    return var_dir / f"{FILE_PREFIX}{worker_id}{FILE_SUFFIX}"


class Outbox:
    """A first-in first-out store of ``(kind, payload)`` records in one SQLite file, safe to
    share between threads (one connection, used under a lock)."""

    def __init__(self, path: Path, *, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        if max_rows < 1:
            raise ValueError(f"an outbox holds at least one row, not {max_rows}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self.refused = 0
        self._lock = path.with_name(path.name + ".lock").open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(f"outbox {path} is in use by another process") from None
        self._guard = threading.Lock()
        try:
            self._db = _open(path)
        except sqlite3.Error:
            self._lock.close()
            raise
        self._rows = self._db.execute("SELECT count(*) FROM record").fetchone()[0]

    def __len__(self) -> int:
        return self._rows

    def add(self, records: Sequence[Record]) -> int:
        """Store ``records`` durably (one fsynced transaction); the number stored.

        A record that is not JSON, or that arrives when the outbox is full, is logged and
        refused: the others are still stored.
        """
        rows: list[tuple[str, str]] = []
        for kind, payload in records:
            if self._rows + len(rows) >= self.max_rows:
                self.refused += 1
                if self.refused % REFUSED_LOG_EVERY == 1:
                    logger.critical(
                        "record outbox %s is full (%d rows, broker unreachable?): "
                        "refused %s record (%d refused so far): %.300r",
                        self.path,
                        self.max_rows,
                        kind,
                        self.refused,
                        payload,
                    )
                continue
            try:
                rows.append((kind, json.dumps(payload)))
            except (TypeError, ValueError) as exc:
                logger.error("dropped %s record that is not JSON (%s): %.300r", kind, exc, payload)
        with self._guard, self._db:
            self._db.executemany("INSERT INTO record (kind, payload) VALUES (?, ?)", rows)
            self._rows += len(rows)
        return len(rows)

    def pending(self, limit: int) -> list[tuple[int, Record]]:
        """The oldest ``limit`` records with their row ids, oldest first."""
        with self._guard:
            rows = self._db.execute(
                "SELECT id, kind, payload FROM record ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [(row_id, (kind, json.loads(payload))) for row_id, kind, payload in rows]

    def remove(self, row_ids: Sequence[int]) -> None:
        """Forget delivered records."""
        with self._guard, self._db:
            removed = self._db.executemany(
                "DELETE FROM record WHERE id = ?", [(i,) for i in row_ids]
            )
            self._rows -= removed.rowcount

    def adopt_orphans(self) -> int:
        """Take over the rows of other outbox files in this directory whose owner is gone.

        Returns the number of rows adopted; each emptied file is deleted (``close``). A file
        whose lock is held belongs to a running worker and is left alone.
        """
        adopted = 0
        pattern = f"{FILE_PREFIX}*{FILE_SUFFIX}"
        for other in sorted(self.path.parent.glob(pattern)):
            if other == self.path:
                continue
            try:
                orphan = Outbox(other)
            except RuntimeError:
                continue
            except sqlite3.DatabaseError as exc:
                logger.error("cannot read orphaned record outbox %s: %s", other, exc)
                continue
            try:
                while batch := orphan.pending(ADOPT_BATCH):
                    stored = self.add([record for _, record in batch])
                    orphan.remove([row_id for row_id, _ in batch[:stored]])
                    adopted += stored
                    if stored < len(batch):
                        break
            finally:
                orphan.close()
        if adopted:
            logger.warning("adopted %d undelivered records of stopped workers", adopted)
        return adopted

    def close(self) -> None:
        """Close the file, and delete it when nothing is left in it (a worker that stopped
        cleanly leaves no file behind; one with undelivered records leaves them)."""
        with self._guard:
            empty = self._rows == 0
            self._db.close()
        if empty:
            for leftover in (self.path, *_sidecars(self.path)):
                leftover.unlink(missing_ok=True)
        self._lock.close()


class OutboxCourier:
    """Stores records in ``outbox`` on one thread and hands them to ``deliver`` on another.

    ``deliver(batch)`` returns once the batch is safely elsewhere (the broker accepted it) or
    raises; only then are the rows deleted, so a crash in between sends them twice, which the
    idempotent writers make harmless. Rows of stopped workers and of this worker's previous
    run go first.
    """

    def __init__(
        self, outbox: Outbox, deliver: Callable[[list[Record]], None], *, name: str
    ) -> None:
        self.outbox = outbox
        self._deliver = deliver
        self._incoming: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self._stored = threading.Event()
        self._storing_done = threading.Event()
        self._storer = threading.Thread(target=self._store_incoming, name=name, daemon=True)
        self._courier = threading.Thread(
            target=self._deliver_stored, name=f"{name}-delivery", daemon=True
        )
        self._storer.start()
        self._courier.start()

    def put(self, record: Record) -> None:
        """Queue ``record`` for storing; returns at once."""
        self._incoming.put(record)

    def close(self) -> None:
        """Store what is queued, try once more to deliver, and stop (blocks: call off-loop)."""
        self._incoming.put(None)
        self._storer.join()
        self._courier.join()

    def _store_incoming(self) -> None:
        try:
            finished = False
            while not finished:
                batch, finished = self._collect()
                if batch:
                    self._store(batch)
                    self._stored.set()
        finally:
            self._storing_done.set()
            self._stored.set()

    def _collect(self) -> tuple[list[Record], bool]:
        """The records that arrive within ``RECORD_LINGER`` seconds of the first (up to
        ``MAX_RECORD_BATCH``), and whether ``close`` was among them."""
        record = self._incoming.get()
        batch: list[Record] = []
        deadline = time.monotonic() + RECORD_LINGER
        while record is not None:
            batch.append(record)
            remaining = deadline - time.monotonic()
            if len(batch) >= MAX_RECORD_BATCH or remaining <= 0:
                break
            try:
                record = self._incoming.get(timeout=remaining)
            except queue.Empty:
                break
        return batch, record is None

    def _store(self, batch: list[Record]) -> None:
        """Put ``batch`` in the outbox; a disk that refuses it is logged with the records."""
        try:
            self.outbox.add(batch)
        except sqlite3.Error as exc:
            logger.critical("could not store %d records (%s): %.2000r", len(batch), exc, batch)

    def _deliver_stored(self) -> None:
        try:
            self.outbox.adopt_orphans()
            delay = 0.0
            while True:
                finishing = self._storing_done.is_set()
                if not len(self.outbox):
                    if finishing:
                        break
                    self._stored.wait()
                    self._stored.clear()
                elif self._deliver_oldest():
                    delay = 0.0
                elif finishing:
                    break
                else:
                    delay = min(max(delay * 2, FIRST_RETRY_DELAY), MAX_RETRY_DELAY)
                    self._storing_done.wait(delay)
        finally:
            self._storing_done.wait()
            if len(self.outbox):
                logger.warning(
                    "%d records stay in %s for the next start", len(self.outbox), self.outbox.path
                )
            self.outbox.close()

    def _deliver_oldest(self) -> bool:
        """Send the oldest stored records as one batch; True once they left the outbox."""
        rows = self.outbox.pending(MAX_RECORD_BATCH)
        try:
            self._deliver([record for _, record in rows])
        except Exception as exc:
            logger.warning(
                "could not deliver %d records (%d kept in the outbox): %s",
                len(rows),
                len(self.outbox),
                exc,
            )
            return False
        try:
            self.outbox.remove([row_id for row_id, _ in rows])
        except sqlite3.Error as exc:
            logger.error("delivered %d records but could not remove them: %s", len(rows), exc)
            return False
        return True


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS record ("
        "id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL)"
    )
    db.isolation_level = "DEFERRED"
    return db


def _sidecars(path: Path) -> list[Path]:
    """SQLite's WAL and shared-memory files and our lock file next to ``path``."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", ".lock")]
