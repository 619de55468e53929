"""The gallery: ``gallery()`` shows past jobs (this machine's journal and the backend's own
list) as plain HTML tiles on the compare grid's 6 tracks, each player with the thumbnail as
poster, fetching missing media in the background."""

from __future__ import annotations

import asyncio
import html
import logging
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._display import clock, format_seconds, short_id, status_color, status_word
from ._errors import SoraParameterError
from ._grid import GRID_STYLE, grid_spans
from ._history import backend_history
from ._job import SoraJob
from ._outputs import filter_bundle, ipy_display, static_bundle, update_display
from ._runtime import runtime
from ._show import poster_uri, publish_media
from ._store import HistoryEntry, cached_media, history
from ._types import Variant

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["Gallery", "gallery"]

log = logging.getLogger("sora_nb")
#: What a completed tile shows: the thumbnail as poster of the video.
_TILE_MEDIA: tuple[Variant, ...] = ("thumbnail", "video")


class Gallery:
    """Past jobs as tiles: a player with the thumbnail as poster (the browser's own controls
    play, pause and enlarge it), status, model, length, age, the prompt on one line (all of
    it on hover) and a short id; failed tiles show their error code. Plain HTML, no widgets:
    it survives the kernel as it is. Missing thumbnails and videos are fetched in the
    background and the display is updated once they are all there."""

    def __init__(self, entries: Sequence[HistoryEntry], note: str | None = None) -> None:
        self.entries: list[HistoryEntry] = list(entries)
        #: One quiet line when the backend's list was not used (e.g. a gateway has none).
        self.note = note

    def __repr__(self) -> str:
        return f"<Gallery {len(self.entries)} jobs>"

    def __len__(self) -> int:
        return len(self.entries)

    def missing(self) -> list[tuple[str, Variant]]:
        """``(video_id, variant)`` of every completed tile's media not cached yet."""
        return [(e.id, variant) for e in self.entries if e.status == "completed"
                for variant in _TILE_MEDIA if cached_media(e.id, variant) is None]

    def _tile(self, entry: HistoryEntry, span: int) -> str:
        color = status_color(entry.status)
        prompt = " ".join((entry.original_prompt or entry.prompt).split())
        age = format_seconds(max(0.0, time.time() - entry.created_at))
        thumb, video = cached_media(entry.id, "thumbnail"), cached_media(entry.id, "video")
        box = ("display:flex;align-items:center;justify-content:center;aspect-ratio:16/9;"
               "width:100%;border-radius:6px 6px 0 0;font-size:12px;")
        if entry.status == "completed" and video is not None:
            still = poster_uri(thumb, 360) if thumb else None
            poster = f' poster="{html.escape(still, quote=True)}"' if still else ""
            media = (f'<video controls preload="none" src="{_q(publish_media(video))}"{poster}'
                     f' style="display:block;width:100%;aspect-ratio:16/9;background:#000;'
                     f'border-radius:6px 6px 0 0"></video>')
        elif entry.status == "completed" and thumb is not None:
            media = (f'<img src="{_q(publish_media(thumb))}" alt="thumbnail" '
                     f'style="display:block;width:100%;border-radius:6px 6px 0 0">')
        elif entry.status == "failed":
            code = entry.error_code or "failed"
            media = (f'<div class="sora-nb-tile-error" style="{box}color:{color};'
                     f'background:rgba(207,34,46,.08);font-weight:600" '
                     f'title="{html.escape(entry.error_message or "", quote=True)}">'
                     f"{html.escape(code)}</div>")
        else:
            media = (f'<div style="{box}background:rgba(127,127,127,.12);opacity:.7">'
                     f"{html.escape(status_word(entry.status))}</div>")
        status = (f'<b style="color:{color}">{html.escape(status_word(entry.status))}</b>'
                  f' <span style="opacity:.7">· {html.escape(age)} ago</span>')
        facts = " · ".join([html.escape(entry.model), f"{int(entry.seconds)} s",
                            html.escape(clock(entry.created_at))])
        one_line = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
        return (
            f'<div class="sora-nb-tile" data-status="{html.escape(entry.status)}" '
            f'style="grid-column:span {span};min-width:0;border:1px solid rgba(127,127,127,.3);'
            f'border-top:3px solid {color};border-radius:8px;overflow:hidden;'
            f'font-family:system-ui,-apple-system,sans-serif">{media}'
            f'<div style="padding:6px 8px;font-size:12px;line-height:1.5">'
            f'<div style="{one_line}">{status}</div>'
            f'<div class="sora-nb-tile-prompt" title="{html.escape(prompt, quote=True)}" '
            f'style="{one_line};font-size:13px">{html.escape(prompt)}</div>'
            f'<div style="{one_line};opacity:.7"><code title="{html.escape(entry.id, quote=True)}"'
            f' style="font-size:11px;user-select:all">{html.escape(short_id(entry.id))}</code>'
            f" · {facts}</div></div></div>"
        )

    def _repr_html_(self) -> str:
        # Two tiles a row for one or two jobs, three for more (a tile spans 2 of 6 tracks)
        n = len(self.entries)
        spans = grid_spans(n, per_row=3) if n > 2 else [2] * n
        tiles = "".join(self._tile(e, span) for e, span in zip(self.entries, spans, strict=True))
        return (self._note_html()
                + f'<div class="sora-nb-gallery" style="{GRID_STYLE}">{tiles}</div>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return filter_bundle(static_bundle(self._repr_html_(), repr(self)), include, exclude)

    def _ipython_display_(self) -> None:
        display_id = uuid.uuid4().hex
        ipy_display(static_bundle(self._repr_html_(), repr(self)), raw=True,
                    display_id=display_id)
        missing = self.missing()
        if missing:
            self.fetch(missing).add_done_callback(lambda _f: self._refresh(display_id))

    def fetch(self, items: Sequence[tuple[str, Variant]] | None = None
              ) -> concurrent.futures.Future[None]:
        """Download every missing thumbnail and video (four at a time) in the background;
        a failed download leaves its tile as it is."""
        todo = list(self.missing() if items is None else items)

        async def run() -> None:
            gate = asyncio.Semaphore(4)

            async def one(video_id: str, variant: Variant) -> None:
                async with gate:
                    try:
                        await _fetch(video_id, variant)
                    except Exception as exc:
                        log.info("sora_nb gallery: %s of %s not fetched (%s)", variant,
                                 video_id, exc)

            await asyncio.gather(*(one(v, k) for v, k in todo))

        return runtime.submit(run())

    def _refresh(self, display_id: str) -> None:
        update_display(static_bundle(self._repr_html_(), repr(self)), display_id)

    def _note_html(self) -> str:
        if not self.note:
            return ""
        return (f'<div class="sora-nb-gallery-note" style="font-size:11px;opacity:.65">'
                f"{html.escape(self.note)}</div>")


def _q(rel: str) -> str:
    from urllib.parse import quote  # deferred: only media links need it

    return html.escape(quote(rel), quote=True)


async def _fetch(video_id: str, variant: Variant) -> Path:
    job = await SoraJob.async_attach(video_id)
    return await job.async_download(variant)


def gallery(limit: int = 24, *, backend: bool = True) -> Gallery:
    """The ``limit`` most recent jobs as a gallery: this machine's journal
    (``sora_nb.history()``) and, with ``backend=True``, the current backend's own list
    (jobs made elsewhere, and fresher statuses). An unreachable backend is skipped."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SoraParameterError("limit", limit, "a positive int (number of jobs to show)")
    notes: list[str] = []
    journal = history(limit=limit)  # indexed: one page, however long the journal
    entries = backend_history(journal, limit, notes) if backend else journal
    return Gallery(entries[:limit], note=notes[0] if notes else None)

