"""The journal of every created job (an append-only JSON-lines file in the cache dir, read
by ``history()``) and the layout of cached downloads."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._config import cache_dir
from ._types import Variant

__all__ = [
    "EXTENSIONS",
    "HistoryEntry",
    "cached_media",
    "find_cached",
    "history",
    "journal_event",
    "journal_status",
    "media_path",
    "record_created",
    "remove_media",
]

EXTENSIONS: dict[str, str] = {"video": "mp4", "thumbnail": "webp", "spritesheet": "jpg"}
_lock = threading.Lock()
log = logging.getLogger("sora_nb")


@dataclass(frozen=True)
class HistoryEntry:
    """One job from the journal, with the last status this machine saw."""

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


def journal_path() -> Path:
    """The journal file: ``journal.jsonl`` in the cache dir."""
    return cache_dir() / "journal.jsonl"


def journal_event(event: str, **fields: Any) -> None:
    """Append one event to the journal: a single ``write`` of one line on an ``O_APPEND``
    descriptor, flushed to disk, so concurrent processes never interleave records."""
    line = json.dumps({"event": event, "at": time.time(), **fields}, sort_keys=True) + "\n"
    path = journal_path()
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def journal_status(video_id: str, status: str, progress: int, code: str | None,
                   message: str | None) -> None:
    """Journal a job's final status; a failure to write is logged, never raised (the
    created record, which is what matters, is already on disk)."""
    try:
        journal_event("status", id=video_id, status=status, progress=progress,
                      error_code=code, error_message=message)
    except OSError:
        log.warning("sora_nb: could not journal the status of %s", video_id, exc_info=True)


def record_created(entry: HistoryEntry) -> None:
    """Journal a newly created job (called before anything else is done with it)."""
    fields = asdict(entry)
    fields.pop("deleted")
    journal_event("created", **fields)


def _read() -> dict[str, dict[str, Any]]:
    path = journal_path()
    if not path.exists():
        return {}
    entries: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash: the rest of the journal still counts
            video_id = record.get("id")
            if not isinstance(video_id, str):
                continue
            event = record.pop("event", None)
            record.pop("at", None)
            if event == "created":
                entries[video_id] = {**entries.get(video_id, {}), **record}
            elif video_id in entries and event == "status":
                entries[video_id].update(record)
            elif video_id in entries and event == "deleted":
                entries[video_id]["deleted"] = True
    return entries


def history(*, include_deleted: bool = False) -> list[HistoryEntry]:
    """Every job journaled on this machine (any process), newest first."""
    names = set(HistoryEntry.__dataclass_fields__)
    result = [
        HistoryEntry(**{k: v for k, v in fields.items() if k in names})
        for fields in _read().values()
        if "prompt" in fields
    ]
    result = [e for e in result if include_deleted or not e.deleted]
    return sorted(result, key=lambda e: e.created_at, reverse=True)


def find_cached(cache_key: str) -> HistoryEntry | None:
    """The newest live, unfailed job made from an identical request, if any."""
    for entry in history():
        if entry.cache_key == cache_key and entry.status != "failed":
            return entry
    return None


def media_path(video_id: str, variant: Variant) -> Path:
    """Where the cached download of ``variant`` of ``video_id`` lives."""
    return cache_dir() / "media" / video_id / f"{variant}.{EXTENSIONS[variant]}"


def remove_media(video_id: str) -> None:
    """Delete every cached download of ``video_id`` (after the job was deleted)."""
    shutil.rmtree(cache_dir() / "media" / video_id, ignore_errors=True)


def cached_media(video_id: str, variant: Variant) -> Path | None:
    """The cached download of ``variant`` of ``video_id`` if it is there, else ``None``."""
    path = media_path(video_id, variant)
    return path if path.is_file() else None
