"""How the journal's SQLite connections are opened: a 0600 file, WAL mode (retried while
another process holds the lock), ``synchronous = FULL``, and the file's identity, so that a
connection to a file deleted or replaced since (the cache dir removed while a kernel runs)
is never used again: its writes would go to the deleted file."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_MS", "FileId", "file_id", "has_tables", "open_connection"]

log = logging.getLogger("sora_nb")

#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000

#: Which file a path is: (device, inode).
FileId = tuple[int, int]


def file_id(path: str) -> FileId | None:
    """Which file ``path`` names now, or ``None`` when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def has_tables(conn: sqlite3.Connection) -> bool:
    """Whether the journal's tables exist in the file ``conn`` is open on."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone()
    return found is not None


def open_connection(path: Path) -> tuple[sqlite3.Connection, FileId]:
    """A connection to the journal at ``path`` (folder and file made if missing) and the
    identity of the file it is open on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before SQLite opens it (prompts are private); SQLite gives its -wal
    # and -shm files the database file's permissions.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        stat = os.fstat(fd)
    finally:
        os.close(fd)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = _switch_to_wal(conn)
        if str(mode).lower() != "wal":  # e.g. a network file system: still safe, slower
            log.debug("sora_nb: the journal runs in %s mode, not WAL", mode)
        # FULL: a committed create survives a power cut too, as the fsync'd JSON lines did.
        conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn, (stat.st_dev, stat.st_ino)


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode = WAL``, tried again while another process holds the lock:
    SQLite answers "database is locked" to a journal-mode switch at once, without waiting
    out ``busy_timeout``, when two processes open a new journal together."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
