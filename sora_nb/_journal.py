"""The journal of every job this machine created: one SQLite database in WAL mode in the
cache dir, shared safely by every thread, process and kernel that uses that cache dir.

Why SQLite: the JSON-lines journal it replaces was re-read whole on every create (6 ms
empty, 1 s at 50,000 entries); here each create is an indexed lookup plus two row writes,
whatever the size (writes go through the group commit of ``_journal_write``: the writes
waiting at one moment share one transaction). A create is journaled *before* it is sent
(status ``pending``, with its idempotency key), completed with the id after, and marked
``unknown`` when its outcome is ambiguous, so no paid-for job is ever unknown to
``history()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import _journal_write as _w
from ._journal_conn import file_id, has_tables, open_connection
from ._journal_write import GroupCommit

__all__ = [
    "DB_NAME",
    "FIND_CACHED_SQL",
    "HISTORY_SQL",
    "LEGACY_NAME",
    "NOT_REUSABLE",
    "PENDING_STALE_SECONDS",
    "HistoryEntry",
    "Journal",
    "complete_and_read",
    "journal_at",
]

log = logging.getLogger("sora_nb")
P = ParamSpec("P")
T = TypeVar("T")

DB_NAME = "journal.sqlite3"
LEGACY_NAME = "journal.jsonl"
#: A ``pending`` entry older than this is shown as ``unknown``: the process that sent the
#: create died (or gave up) before the answer came back.
PENDING_STALE_SECONDS = 15 * 60.0
#: Statuses of entries that hold no usable job (never offered again by ``find_cached``).
NOT_REUSABLE = ("failed", "pending", "unknown", "cancelled", "expired")


@dataclass(frozen=True)
class HistoryEntry:
    """One job from the journal, with the last status this machine saw.

    ``status`` is the backend's (``queued`` ... ``completed``/``failed``), or ``pending``
    while a create is on its way, or ``unknown`` when the create failed after it may have
    reached the server: then ``id`` is ``""`` and ``idempotency_key`` identifies the
    request (look for the job in the backend's own list, then ``SoraJob.attach(id)``)."""

    id: str
    prompt: str
    original_prompt: str
    model: str
    seconds: int
    size: str
    backend: str
    created_at: float
    status: str = "queued"
    progress: int = 0
    error_code: str | None = None
    error_message: str | None = None
    remixed_from: str | None = None
    kind: str = "create"
    cache_key: str | None = None
    deleted: bool = False
    idempotency_key: str | None = None


_FIELDS = tuple(f.name for f in fields(HistoryEntry))
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE,
    idempotency_key TEXT UNIQUE,
    prompt TEXT NOT NULL DEFAULT '',
    original_prompt TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    seconds INTEGER NOT NULL DEFAULT 0,
    size TEXT NOT NULL DEFAULT '',
    backend TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    progress INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    remixed_from TEXT,
    kind TEXT NOT NULL DEFAULT 'create',
    cache_key TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    request TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs(created_at);
CREATE INDEX IF NOT EXISTS jobs_by_cache_key ON jobs(cache_key, created_at);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = ", ".join(_FIELDS)
# The queries the create path and history() run; tests check their plans use the indexes.
HISTORY_SQL = (
    f"SELECT {_COLUMNS}, updated_at FROM jobs {{where}} ORDER BY created_at DESC, seq DESC"
)
FIND_CACHED_SQL = (
    f"SELECT {_COLUMNS}, updated_at FROM jobs WHERE cache_key = ? AND deleted = 0 "
    f"AND id IS NOT NULL AND status NOT IN ({', '.join('?' * len(NOT_REUSABLE))}) "
    "ORDER BY created_at DESC LIMIT 1"
)


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default if value is None else str(value)


def _int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _entry(row: sqlite3.Row, now: float) -> HistoryEntry:
    values = dict(zip((*_FIELDS, "updated_at"), row, strict=True))
    status = _text(values["status"], "unknown")
    if status == "pending" and now - float(values["updated_at"] or 0) > PENDING_STALE_SECONDS:
        status = "unknown"
    return HistoryEntry(
        id=_text(values["id"]), prompt=_text(values["prompt"]),
        original_prompt=_text(values["original_prompt"]), model=_text(values["model"]),
        seconds=_int(values["seconds"]), size=_text(values["size"]),
        backend=_text(values["backend"]), created_at=float(values["created_at"] or 0.0),
        status=status, progress=max(0, min(100, _int(values["progress"]))),
        error_code=values["error_code"], error_message=values["error_message"],
        remixed_from=values["remixed_from"], kind=_text(values["kind"], "create"),
        cache_key=values["cache_key"], deleted=bool(values["deleted"]),
        idempotency_key=values["idempotency_key"],
    )


class Journal:
    """The journal database at ``path``: one connection per thread (sqlite3 connections
    are not shared across threads) and per process (none survives a fork)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = str(path)
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._commits = GroupCommit(self._connect)

    # -- connections ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            if file_id(self._file) == self._local.file:
                return conn
            # the file was deleted or replaced since (the cache dir removed): a write on
            # this connection would go to the deleted file, so connect to the new one
            conn.close()
            self._local.conn = None
        conn, made = open_connection(self.path)
        try:
            # once per process, and again for a file made since (tables are checked, not
            # assumed: another thread may have made the file and not its tables yet)
            with self._ready_lock:
                if not self._ready or not has_tables(conn):
                    self._prepare(conn)
                    self._ready = True
        except BaseException:
            conn.close()
            raise
        self._local.conn, self._local.pid, self._local.file = conn, os.getpid(), made
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        with self._write(conn):
            # statement by statement: executescript() would COMMIT the transaction first
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            legacy = self.path.parent / LEGACY_NAME
            done = conn.execute("SELECT 1 FROM meta WHERE name = 'imported_jsonl'").fetchone()
            if done is None and legacy.exists():
                count = _import_jsonl(conn, legacy)
                log.info("sora_nb: imported %d jobs from %s (the file is kept)", count, legacy)
            if done is None:
                conn.execute("INSERT INTO meta VALUES ('imported_jsonl', ?)", (str(time.time()),))

    @contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """One write transaction on ``conn`` (the schema's: every other write goes through
        the group commit), taken at once (``BEGIN IMMEDIATE``) so that two processes never
        deadlock upgrading read locks; rolled back on any error."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (tests; a new one opens on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes ----------------------------------------------------------------------
    # Every write goes through the group commit (``_journal_write``): the writes of all
    # threads waiting at one moment share one transaction and one fsync.

    def submit(self, write: Callable[Concatenate[sqlite3.Connection, P], T],
               *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[T]:
        """Queue ``write(conn, *args, **kwargs)`` (one of ``_journal_write``'s); the
        future resolves once it is committed (or raises why it was not)."""
        return self._commits.submit(lambda conn: write(conn, *args, **kwargs))

    def write(self, write: Callable[Concatenate[sqlite3.Connection, P], T],
              *args: P.args, **kwargs: P.kwargs) -> T:
        """``submit`` and wait until committed."""
        return self.submit(write, *args, **kwargs).result()

    async def async_write(self, write: Callable[Concatenate[sqlite3.Connection, P], T],
                          *args: P.args, **kwargs: P.kwargs) -> T:
        """The async twin of ``write``: the event loop runs on while the commit happens."""
        return await asyncio.wrap_future(self.submit(write, *args, **kwargs))

    def record(self, entry: HistoryEntry) -> None:
        """Journal a job known by id (a create journaled the old way, or an attach)."""
        self.write(_w.upsert, entry)

    def record_status(self, video_id: str, status: str, progress: int,
                      code: str | None, message: str | None) -> None:
        self.write(_w.record_status, video_id, status, progress, code, message)

    def record_deleted(self, video_id: str) -> None:
        self.write(_w.record_deleted, video_id)

    # -- reads -----------------------------------------------------------------------

    def history(self, *, include_deleted: bool = False, limit: int | None = None
                ) -> list[HistoryEntry]:
        """Entries newest first (``limit`` of them), deleted ones only if asked."""
        sql = HISTORY_SQL.format(where="" if include_deleted else "WHERE deleted = 0")
        args: tuple[Any, ...] = ()
        if limit is not None:
            sql, args = sql + " LIMIT ?", (limit,)
        now = time.time()
        return [_entry(row, now) for row in self._connect().execute(sql, args)]

    def find_cached(self, cache_key: str) -> HistoryEntry | None:
        """The newest live, usable job made from an identical request, if any."""
        row = self._connect().execute(FIND_CACHED_SQL, (cache_key, *NOT_REUSABLE)).fetchone()
        return _entry(row, time.time()) if row is not None else None

    def by_id(self, video_id: str) -> HistoryEntry | None:
        row = self._connect().execute(
            f"SELECT {_COLUMNS}, updated_at FROM jobs WHERE id = ?", (video_id,)).fetchone()
        return _entry(row, time.time()) if row is not None else None

    def by_idempotency_key(self, key: str) -> HistoryEntry | None:
        row = self._connect().execute(
            f"SELECT {_COLUMNS}, updated_at FROM jobs WHERE idempotency_key = ?", (key,)
        ).fetchone()
        return _entry(row, time.time()) if row is not None else None

    def query_plan(self, sql: str, args: tuple[Any, ...] = ()) -> list[str]:
        """SQLite's ``EXPLAIN QUERY PLAN`` lines for ``sql`` (tests check index use)."""
        rows = self._connect().execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
        return [str(r[-1]) for r in rows]


def _import_jsonl(conn: sqlite3.Connection, legacy: Path) -> int:
    """Fold the JSON-lines journal of earlier versions into the database (in the caller's
    transaction) with the old reader's rules: a torn line is skipped, a status or delete
    counts only for a job created earlier in the file."""
    entries: dict[str, dict[str, Any]] = {}
    with legacy.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            video_id = record["id"]
            event = record.pop("event", None)
            record.pop("at", None)
            if event == "created":
                entries[video_id] = {**entries.get(video_id, {}), **record}
            elif video_id in entries and event == "status":
                entries[video_id].update(record)
            elif video_id in entries and event == "deleted":
                entries[video_id]["deleted"] = True
    now = time.time()
    count = 0
    for values in entries.values():
        if "prompt" not in values:
            continue
        known = {k: v for k, v in values.items() if k in _FIELDS}
        entry = HistoryEntry(**{
            "id": known["id"], "prompt": _text(known.get("prompt")),
            "original_prompt": _text(known.get("original_prompt")),
            "model": _text(known.get("model")), "seconds": _int(known.get("seconds")),
            "size": _text(known.get("size")), "backend": _text(known.get("backend")),
            "created_at": float(known.get("created_at") or 0.0),
            **{k: v for k, v in known.items() if k in (
                "status", "progress", "error_code", "error_message", "remixed_from", "kind",
                "cache_key", "deleted")},
        })
        _w.upsert(conn, entry, now)
        count += 1
    return count


_journals: dict[Path, Journal] = {}
_journals_lock = threading.Lock()


def complete_and_read(conn: sqlite3.Connection, idempotency_key: str,
                      entry: HistoryEntry) -> HistoryEntry | None:
    """A write: ``_journal_write.complete_pending``, then the entry as journaled, read in
    the same transaction on the writer thread (not by the event loop after the commit)."""
    _w.complete_pending(conn, idempotency_key, entry)
    # by key; a replay folded into the row its id already had (which keeps that row's key)
    row = (conn.execute(f"SELECT {_COLUMNS}, updated_at FROM jobs WHERE idempotency_key = ?",
                        (idempotency_key,)).fetchone()
           or conn.execute(f"SELECT {_COLUMNS}, updated_at FROM jobs WHERE id = ?",
                           (entry.id,)).fetchone())
    return _entry(row, time.time()) if row is not None else None


def journal_at(folder: Path) -> Journal:
    """The journal of the cache dir ``folder`` (one object per folder per process)."""
    path = folder / DB_NAME
    with _journals_lock:
        journal = _journals.get(path)
        if journal is None:
            journal = _journals[path] = Journal(path)
        return journal
