"""The journal of every created job (SQLite in the cache dir, see ``_journal``; read by
``history()``) and the layout of cached downloads (one safe folder per id, see ``_ids``)."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from ._config import cache_dir, cache_dir_path
from ._errors import SoraParameterError
from ._ids import inside, path_segment
from ._journal import HistoryEntry, Journal, journal_at
from ._types import Variant

__all__ = [
    "EXTENSIONS",
    "HistoryEntry",
    "cached_media",
    "find_cached",
    "history",
    "journal",
    "journal_event",
    "journal_status",
    "media_dir",
    "media_path",
    "record_created",
    "remove_media",
]

EXTENSIONS: dict[str, str] = {"video": "mp4", "thumbnail": "webp", "spritesheet": "jpg"}
log = logging.getLogger("sora_nb")


def journal() -> Journal:
    """The journal of the current cache dir (``Journal`` makes the folder on connecting)."""
    return journal_at(cache_dir_path())


def journal_path() -> Path:
    """The journal file: ``journal.sqlite3`` in the cache dir."""
    return journal().path


def journal_event(event: str, **fields: Any) -> None:
    """Record one event about a job known by id: ``created`` (the fields of a
    ``HistoryEntry``), ``status`` (status, progress, error_code, error_message) or
    ``deleted``. Each is one SQLite transaction, safe across threads and processes."""
    if event == "created":
        record_created(HistoryEntry(**fields))
    elif event == "status":
        journal().record_status(fields["id"], fields["status"], fields.get("progress", 0),
                                fields.get("error_code"), fields.get("error_message"))
    elif event == "deleted":
        journal().record_deleted(fields["id"])
    else:
        raise ValueError(f"unknown journal event {event!r}")


def journal_status(video_id: str, status: str, progress: int, code: str | None,
                   message: str | None) -> None:
    """Journal a job's final status; a failure to write is logged, never raised (the
    created record, which is what matters, is already on disk)."""
    try:
        journal().record_status(video_id, status, progress, code, message)
    except (OSError, sqlite3.Error):
        log.warning("sora_nb: could not journal the status of %s", video_id, exc_info=True)


def record_created(entry: HistoryEntry) -> None:
    """Journal a newly created job (called before anything else is done with it)."""
    journal().record(entry)


def history(*, include_deleted: bool = False, limit: int | None = None) -> list[HistoryEntry]:
    """Every job journaled on this machine (any process), newest first; ``limit`` keeps
    the newest ones. Creates whose answer never came show as ``pending`` or ``unknown``."""
    if not isinstance(include_deleted, bool):
        raise SoraParameterError("include_deleted", include_deleted, "True or False")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise SoraParameterError("limit", limit, "None (every job) or an int >= 1")
    return journal().history(include_deleted=include_deleted, limit=limit)


def find_cached(cache_key: str) -> HistoryEntry | None:
    """The newest live, unfailed job made from an identical request, if any."""
    return journal().find_cached(cache_key)


def media_dir(video_id: str) -> Path:
    """The folder of ``video_id``'s cached downloads: one safe segment under
    ``cache_dir()/media`` whatever the id holds (``_ids.path_segment``)."""
    root = cache_dir() / "media"
    return inside(root, root / path_segment(video_id))


def media_path(video_id: str, variant: Variant) -> Path:
    """Where the cached download of ``variant`` of ``video_id`` lives."""
    return media_dir(video_id) / f"{variant}.{EXTENSIONS[variant]}"


def remove_media(video_id: str) -> None:
    """Delete every cached download of ``video_id`` (after the job was deleted): only its
    own folder inside ``cache_dir()/media``; a symlink there is removed, never followed."""
    root = cache_dir() / "media"
    folder = root / path_segment(video_id)
    if folder.is_symlink():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(inside(root, folder))


def cached_media(video_id: str, variant: Variant) -> Path | None:
    """The cached download of ``variant`` of ``video_id`` if it is there, else ``None``."""
    path = media_path(video_id, variant)
    return path if path.is_file() else None
