"""``backend_history``: this machine's journal merged with the current backend's own list of
jobs, for ``gallery()``.

Kept apart from ``_store`` on purpose: ``_store`` is the on-disk journal only (no network,
no runtime thread), so it stays a leaf every module can import; this merge needs both."""

from __future__ import annotations

import logging
from dataclasses import replace

from openai.types import Video

from ._config import resolve_backend, settings
from ._errors import SoraError
from ._runtime import runtime
from ._store import HistoryEntry
from ._videos import list_videos

__all__ = ["backend_history"]

log = logging.getLogger("sora_nb")


def backend_history(journal: list[HistoryEntry], limit: int) -> list[HistoryEntry]:
    """``journal`` merged with the current backend's ``limit`` newest jobs (statuses from
    the backend win), newest first. If the backend cannot be reached, ``journal`` as is."""
    try:
        backend = resolve_backend()
        # one retry at most: a gallery should not stall on a backend that is away
        quick = replace(settings.poll, max_failures=1)
        videos: list[Video] = runtime.run(list_videos(backend, limit, quick))
    except SoraError as exc:
        log.warning("sora_nb: the backend's list is unavailable (%s)", exc)
        return journal
    by_id = {e.id: e for e in journal}
    for v in videos:
        known = by_id.get(v.id)
        if known is not None:
            by_id[v.id] = replace(known, status=v.status, progress=int(v.progress or 0))
        else:
            by_id[v.id] = HistoryEntry(
                id=v.id, prompt=v.prompt or "", original_prompt=v.prompt or "",
                model=str(v.model), seconds=int(v.seconds), size=str(v.size),
                backend=backend.identity, created_at=float(v.created_at), status=v.status,
                progress=int(v.progress or 0), remixed_from=v.remixed_from_video_id,
                kind="listed",
            )
    return sorted(by_id.values(), key=lambda e: e.created_at, reverse=True)
