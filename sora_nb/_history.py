"""``backend_history``: this machine's journal merged with the current backend's own list of
jobs, for ``gallery()``.

Kept apart from ``_store`` on purpose: ``_store`` is the on-disk journal only (no network,
no runtime thread), so it stays a leaf every module can import; this merge needs both."""

from __future__ import annotations

import logging
from dataclasses import replace

from openai.types import Video

from ._config import resolve_backend, settings
from ._errors import SoraError, SoraUnsupported
from ._ids import id_problem
from ._runtime import runtime
from ._store import HistoryEntry
from ._types import normalize_status
from ._videos import list_videos
from ._wire import entry_from_video, field, progress_of

__all__ = ["backend_history"]

log = logging.getLogger("sora_nb")


def backend_history(journal: list[HistoryEntry], limit: int,
                    notes: list[str] | None = None) -> list[HistoryEntry]:
    """``journal`` merged with the current backend's ``limit`` newest jobs (statuses from
    the backend win, source ids from the journal), newest first. If the backend cannot be
    reached, or has no list, ``journal`` as is, and one line saying so in ``notes``."""
    try:
        backend = resolve_backend()
        # one retry at most: a gallery should not stall on a backend that is away
        quick = replace(settings.poll, max_failures=1)
        videos: list[Video] = runtime.run(list_videos(backend, limit, quick))
    except SoraUnsupported as exc:
        line = f"{exc.server} has no list of jobs: showing this machine's journal"
        log.info("sora_nb: %s", line)
        if notes is not None:
            notes.append(line)
        return journal
    except SoraError as exc:
        log.warning("sora_nb: the backend's list is unavailable (%s)", exc)
        if notes is not None:
            notes.append("the backend's list is unavailable: showing this machine's journal")
        return journal
    # entries without an id (a create whose answer never came) are kept as they are
    by_id = {e.id: e for e in journal if e.id}
    for v in videos:
        if id_problem(field(v, "id")) is not None:
            log.warning("sora_nb: the backend listed a job with an unusable id; skipped")
            continue
        known = by_id.get(v.id)
        if known is not None:
            by_id[v.id] = replace(known, status=normalize_status(field(v, "status")),
                                  progress=progress_of(field(v, "progress")) or 0)
        else:
            by_id[v.id] = entry_from_video(v, video_id=v.id, backend=backend.identity,
                                           original_prompt=None, kind="listed")
    merged = [*by_id.values(), *(e for e in journal if not e.id)]
    return sorted(merged, key=lambda e: e.created_at, reverse=True)
