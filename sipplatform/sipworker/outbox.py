"""The SIP worker's durable outbox: records on local disk until the broker has accepted them.

A call detail or transfer audit record is what the operator bills from, so the worker never
holds one only in memory: the records thread writes each to a SQLite file of its own
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

An ``Outbox`` may be opened on one thread (the event loop's, at start) and then used by one
other (the records thread): never by two at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 500_000
"""About half a gigabyte of call records: days of a busy worker's calls without a broker."""
REFUSED_LOG_EVERY = 1000
ADOPT_BATCH = 1000
FILE_PREFIX = "outbox-"
FILE_SUFFIX = ".sqlite3"

Record = tuple[str, dict[str, Any]]


def outbox_path(var_dir: Path, worker_id: str) -> Path:
    """The outbox file of ``worker_id`` in ``var_dir``."""
    return var_dir / f"{FILE_PREFIX}{worker_id}{FILE_SUFFIX}"


class Outbox:
    """A first-in first-out store of ``(kind, payload)`` records in one SQLite file."""

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
        self._db = _open(path)
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
        with self._db:
            self._db.executemany("INSERT INTO record (kind, payload) VALUES (?, ?)", rows)
        self._rows += len(rows)
        return len(rows)

    def pending(self, limit: int) -> list[tuple[int, Record]]:
        """The oldest ``limit`` records with their row ids, oldest first."""
        cursor = self._db.execute(
            "SELECT id, kind, payload FROM record ORDER BY id LIMIT ?", (limit,)
        )
        return [(row_id, (kind, json.loads(payload))) for row_id, kind, payload in cursor]

    def remove(self, row_ids: Sequence[int]) -> None:
        """Forget delivered records."""
        with self._db:
            removed = self._db.executemany(
                "DELETE FROM record WHERE id = ?", [(i,) for i in row_ids]
            )
        self._rows -= removed.rowcount

    def adopt_orphans(self) -> int:
        """Take over the rows of other outbox files in this directory whose owner is gone.

        Returns the number of rows adopted; each adopted file is deleted. A file whose lock is
        held belongs to a running worker and is left alone.
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
                emptied = len(orphan) == 0
            finally:
                orphan.close()
            if emptied:
                for leftover in (other, *_sidecars(other)):
                    leftover.unlink(missing_ok=True)
        if adopted:
            logger.warning("adopted %d undelivered records of stopped workers", adopted)
        return adopted

    def close(self) -> None:
        self._db.close()
        self._lock.close()


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
