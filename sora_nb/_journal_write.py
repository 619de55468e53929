"""How the journal is written: the SQL of each write (functions of a connection) and the
group commit (``GroupCommit``) that runs every write of a process on one writer thread,
all the writes waiting at that moment in one transaction.

Why a group commit: each commit is an fsync (``synchronous = FULL``: a committed create
survives a power cut), and a create needs two (its pending entry before the request, its
id after). Done one by one on the runtime loop, 500 creates (32 at once) spent seconds in
fsyncs with the loop blocked (issue 13); here the 32 pending entries of the creates in
flight share one transaction and one fsync, and the loop awaits it instead of blocking.
A write is acknowledged (its future resolved) only after the transaction holding it
committed, so "journaled before the request is sent" holds as before; each write runs in
its own savepoint, so one failing write fails alone."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ._journal import HistoryEntry

__all__ = [
    "IDLE_SECONDS",
    "GroupCommit",
    "Write",
    "begin_pending",
    "complete_pending",
    "drop_pending",
    "mark_unknown",
    "record_deleted",
    "record_status",
    "upsert",
]

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]
#: Seconds the writer thread waits for work before it closes its connection and ends
#: (the next write starts it again): an idle process keeps no thread per journal.
IDLE_SECONDS = 5.0


class GroupCommit:
    """One writer thread per journal and process: ``submit(write)`` queues ``write`` and
    returns a future resolved once the transaction that ran it committed."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect  # the writer thread's own connection (per thread, per pid)
        self._cond = threading.Condition()
        self._queue: list[tuple[Write, concurrent.futures.Future[Any]]] = []
        self._thread: threading.Thread | None = None
        self._pid = 0
        #: transactions committed (tests and the benchmark read it)
        self.commits = 0

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._cond:
            self._queue.append((write, future))
            # a forked child has the parent's object but not its thread: start its own
            if self._thread is None or self._pid != os.getpid():
                self._thread = threading.Thread(target=self._run, name="sora_nb-journal",
                                                daemon=True)
                self._pid = os.getpid()
                self._thread.start()
            self._cond.notify()
        return future

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(IDLE_SECONDS)
                if not self._queue:  # idle: end (submit starts a new thread)
                    self._thread = None
                    if conn is not None:
                        conn.close()
                    return
                batch, self._queue = self._queue, []
            try:
                # asked per batch: the connection is kept per thread, and made again when
                # the file was deleted (the cache dir removed) since the last batch
                conn = self._connect()
            except BaseException as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self._commit(conn, batch)

    def _commit(self, conn: sqlite3.Connection,
                batch: list[tuple[Write, concurrent.futures.Future[Any]]]) -> None:
        results: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            # taken at once (IMMEDIATE): two processes never deadlock upgrading read locks
            conn.execute("BEGIN IMMEDIATE")
            for write, future in batch:
                conn.execute("SAVEPOINT one_write")
                try:
                    value = write(conn)
                except Exception as exc:  # this write fails alone
                    conn.execute("ROLLBACK TO one_write")
                    results.append((future, None, exc))
                else:
                    results.append((future, value, None))
                conn.execute("RELEASE one_write")
            conn.execute("COMMIT")
        except BaseException as exc:  # nothing of this batch was committed
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _, future in batch:
                future.set_exception(exc)
            return
        self.commits += 1
        for future, value, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)


# -- the writes ----------------------------------------------------------------------------


def begin_pending(conn: sqlite3.Connection, idempotency_key: str, *,
                  request: Mapping[str, Any], prompt: str, original_prompt: str, model: str,
                  seconds: int, size: str, backend: str, kind: str = "create",
                  cache_key: str | None = None, remixed_from: str | None = None) -> None:
    """Journal a create about to be sent (status ``pending``, no id yet)."""
    now = time.time()
    conn.execute(
        "INSERT INTO jobs (idempotency_key, prompt, original_prompt, model, seconds, "
        "size, backend, created_at, status, kind, cache_key, remixed_from, request, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
        (idempotency_key, prompt, original_prompt, model, seconds, size, backend, now,
         kind, cache_key, remixed_from, json.dumps(dict(request), default=str), now),
    )


def complete_pending(conn: sqlite3.Connection, idempotency_key: str,
                     entry: HistoryEntry) -> None:
    """Give the pending create its id and the server's first answer. If that id is
    already journaled (an idempotent replay, an earlier attach) the pending row folds
    into it; with no pending row (a journal made before it) the entry is inserted."""
    now = time.time()
    row = conn.execute("SELECT seq FROM jobs WHERE id = ?", (entry.id,)).fetchone()
    if row is not None:
        conn.execute("DELETE FROM jobs WHERE idempotency_key = ? AND id IS NULL",
                     (idempotency_key,))
        upsert(conn, entry, now)
        return
    updated = conn.execute(
        "UPDATE jobs SET id = ?, prompt = ?, model = ?, seconds = ?, size = ?, "
        "status = ?, progress = ?, remixed_from = COALESCE(?, remixed_from), "
        "error_message = NULL, updated_at = ? WHERE idempotency_key = ?",
        (entry.id, entry.prompt, entry.model, entry.seconds, entry.size, entry.status,
         entry.progress, entry.remixed_from, now, idempotency_key),
    ).rowcount
    if not updated:
        upsert(conn, entry, now)


def mark_unknown(conn: sqlite3.Connection, idempotency_key: str, reason: str) -> None:
    """The create's outcome is unknown (it failed after it may have been received)."""
    conn.execute(
        "UPDATE jobs SET status = 'unknown', error_code = 'outcome_unknown', "
        "error_message = ?, updated_at = ? WHERE idempotency_key = ? AND id IS NULL",
        (reason, time.time(), idempotency_key),
    )


def drop_pending(conn: sqlite3.Connection, idempotency_key: str) -> None:
    """The create was refused before anything was made: its pending entry goes."""
    conn.execute("DELETE FROM jobs WHERE idempotency_key = ? AND id IS NULL",
                 (idempotency_key,))


def upsert(conn: sqlite3.Connection, entry: HistoryEntry, now: float | None = None) -> None:
    """Insert ``entry``, or update the row of its id (keeping its creation time)."""
    names_all = [f.name for f in dataclasses.fields(entry)]
    values = {name: getattr(entry, name) for name in names_all}
    values["deleted"] = int(entry.deleted)
    names = [n for n in names_all if n != "idempotency_key" or entry.idempotency_key]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names
                        if n not in ("id", "created_at", "deleted", "idempotency_key"))
    conn.execute(
        f"INSERT INTO jobs ({', '.join(names)}, updated_at) "
        f"VALUES ({', '.join('?' * len(names))}, ?) "
        f"ON CONFLICT(id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
        (*(values[n] for n in names), time.time() if now is None else now),
    )


def record_status(conn: sqlite3.Connection, video_id: str, status: str, progress: int,
                  code: str | None, message: str | None) -> None:
    conn.execute(
        "UPDATE jobs SET status = ?, progress = ?, error_code = ?, error_message = ?, "
        "updated_at = ? WHERE id = ?",
        (status, progress, code, message, time.time(), video_id),
    )


def record_deleted(conn: sqlite3.Connection, video_id: str) -> None:
    conn.execute("UPDATE jobs SET deleted = 1, updated_at = ? WHERE id = ?",
                 (time.time(), video_id))
