"""Many jobs at once: ``compare()`` (live cards side by side, each prompt once with the words
that differ marked, then plain HTML with a player each) and ``gallery()`` (past jobs as
plain HTML tiles whose players have the thumbnail as poster)."""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._display import card_html, clock, format_seconds, short_id, status_color, status_word
from ._errors import SoraJobFailed, SoraParameterError
from ._history import backend_history
from ._job import SoraJob
from ._many import Slot, check_batch, expand_sweep, start_creates
from ._runtime import runtime
from ._show import filter_bundle, poster_uri, publish_media
from ._store import HistoryEntry, cached_media, history
from ._types import Variant
from ._widget import WIDGET_VIEW, JobCard, static_bundle, update_display, widgets_available

if TYPE_CHECKING:
    import concurrent.futures

__all__ = [
    "CompareGrid", "Gallery", "batch", "compare", "diff_words", "gallery", "grid_spans", "sweep",
]

log = logging.getLogger("sora_nb")
_MARK = "background:rgba(255,212,59,.55);color:inherit;border-radius:2px;padding:0 1px"
#: Both grids lay cells on 6 tracks: a cell spans 2 (three a row), 3 (two) or 6 (one), so
#: 2 to 6 jobs fill their rows evenly (5 jobs: a row of three, then a row of two).
_TRACKS = 6
_TILE_MEDIA: tuple[Variant, ...] = ("thumbnail", "video")
_GRID = (f"display:grid;grid-template-columns:repeat({_TRACKS},minmax(0,1fr));gap:10px;"
         "align-items:start")


def grid_spans(n: int, per_row: int = 3) -> list[int]:
    """How many of the 6 tracks each of ``n`` cells spans: rows of ``per_row`` (2 or 3),
    four cells as two rows of two, and a last row shared evenly by what is left."""
    if n <= 0:
        return []
    if n == 4 and per_row == 3:
        per_row = 2
    full, rest = divmod(n, per_row)
    spans = [_TRACKS // per_row] * (full * per_row)
    if rest:
        spans += [_TRACKS // rest if n <= 6 else _TRACKS // per_row] * rest
    return spans


def _key(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower()) or word


def diff_words(prompts: Sequence[str]) -> list[list[tuple[str, bool]]]:
    """Split each prompt into words and mark the ones that differ: a word is ``False``
    (shared) when it belongs to the longest run of words, in order, that every prompt has
    in common (compared case- and punctuation-insensitively), ``True`` otherwise."""
    words = [str(p).split() for p in prompts]
    if not words:
        return []
    keys = [[_key(w) for w in ws] for ws in words]
    common = keys[0]
    for other in keys[1:]:
        matcher = SequenceMatcher(None, common, other, autojunk=False)
        common = [k for block in matcher.get_matching_blocks()
                  for k in common[block.a:block.a + block.size]]
    result: list[list[tuple[str, bool]]] = []
    for ws, ks in zip(words, keys, strict=True):
        shared = [False] * len(ws)
        matcher = SequenceMatcher(None, ks, common, autojunk=False)
        for block in matcher.get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                shared[i] = True
        result.append([(w, not s) for w, s in zip(ws, shared, strict=True)])
    return result


def diff_html(words: list[tuple[str, bool]]) -> str:
    """One prompt of ``diff_words`` as escaped HTML, the differing words in ``<mark>``."""
    return " ".join(
        f'<mark style="{_MARK}">{html.escape(w)}</mark>' if differs else html.escape(w)
        for w, differs in words
    )


class CompareGrid:
    """Jobs side by side, each prompt once (in its card, the words that differ between
    prompts marked). A job still waiting in the create queue (``compare``, ``sweep`` and
    ``batch`` return before the backend made them) shows as a "waiting to be created" cell
    that becomes its live card. Once every job exists and every card is final, every
    display of the grid becomes plain HTML with a player per completed job."""

    def __init__(self, jobs: Sequence[SoraJob | Slot], *, widgets: bool | None = None) -> None:
        self.slots: list[SoraJob | Slot] = list(jobs)
        self._widgets = widgets_available() if widgets is None else widgets
        self.diffs = diff_words([_prompt_of(item) for item in self.slots])
        self._spans = grid_spans(len(self.slots))
        self._lock = threading.Lock()
        #: One card per slot once its job exists (None while it waits to be created).
        self._cards: list[JobCard | None] = [None] * len(self.slots)
        self._cells: list[Any] = []
        self._widget: Any = None
        self._display_ids: list[str] = []
        for index, item in enumerate(self.slots):
            if isinstance(item, Slot):
                item.on_created(functools.partial(self._created, index))

    @property
    def jobs(self) -> list[SoraJob]:
        """The jobs, waiting for any still being created; raises the first create's error
        (the others were created and journaled: see ``sora_nb.history()``)."""
        return [item if isinstance(item, SoraJob) else item.result() for item in self.slots]

    @property
    def created(self) -> list[SoraJob]:
        """The jobs created so far (never waits)."""
        return [job for item in self.slots if (job := _job_of(item)) is not None]

    def wait(self, timeout: float | None = None) -> CompareGrid:
        """Wait until every job was created and has finished (``timeout`` is for all of
        them together); then raise ``SoraJobFailed`` for the first that failed, if any."""
        deadline = None if timeout is None else time.monotonic() + timeout
        failed: SoraJobFailed | None = None
        for item in self.slots:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            job = item if isinstance(item, SoraJob) else item.result(left)
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                job.wait(left)
            except SoraJobFailed as exc:
                failed = failed or exc
        if failed is not None:
            raise failed
        return self

    def __len__(self) -> int:
        return len(self.slots)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for item in self.slots:
            job = _job_of(item)
            status = job.status if job is not None else (
                "create failed" if isinstance(item, Slot) and item.error is not None
                else "waiting to be created")
            counts[status] = counts.get(status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return f"<CompareGrid {len(self.slots)} jobs: {summary}>"

    def _card(self, index: int) -> JobCard | None:
        """The card of slot ``index``, built on first use once its job exists."""
        with self._lock:
            card = self._cards[index]
            job = _job_of(self.slots[index])
            if card is None and job is not None:
                card = JobCard(job, prompt_html=diff_html(self.diffs[index]), width="none",
                               widgets=self._widgets)
                self._cards[index] = card
                card.on_final(self._card_final)
            return card

    @property
    def cards(self) -> list[JobCard]:
        """The grid's own cards of the jobs created so far (media fetched)."""
        return [card for i in range(len(self.slots)) if (card := self._card(i)) is not None]

    @property
    def widget(self) -> Any:
        """The live ipywidgets GridBox (built on first use)."""
        if self._widget is None:
            import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

            self._cells = [self._cell_widget(i) for i in range(len(self.slots))]
            self._widget = w.GridBox(list(self._cells), layout=w.Layout(
                grid_template_columns=f"repeat({_TRACKS}, minmax(0, 1fr))", grid_gap="10px",
                align_items="flex-start",
            ))
        return self._widget

    def _cell_widget(self, index: int) -> Any:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        card = self._card(index)
        cell = card.widget if card is not None and card.widget is not None else w.HTML(
            self._waiting(index))
        cell.layout.grid_column = f"span {self._spans[index]}"
        cell.layout.max_width = "none"
        return cell

    def _created(self, index: int, slot: Slot) -> None:
        # On the runtime thread: the waiting cell becomes the job's card (trait assignment
        # only), or says why the create failed.
        if self._widget is not None:
            self._cells[index] = self._cell_widget(index)
            self._widget.children = tuple(self._cells)
        if slot.error is not None:
            self._card_final(None)  # a failed create is as final as it gets

    def _waiting(self, index: int) -> str:
        item = self.slots[index]
        head = f'<div style="font-size:13px;margin-bottom:4px">{diff_html(self.diffs[index])}</div>'
        return head + _waiting_html(item)

    @property
    def final(self) -> bool:
        """Every create settled and every card final."""
        for index, item in enumerate(self.slots):
            if isinstance(item, Slot) and not item.created:
                return False
            card = self._card(index)
            if card is not None and not card.final:
                return False
        return True

    def _repr_html_(self) -> str:
        cells = []
        for index, span in enumerate(self._spans):
            card = self._card(index)
            if card is None:
                inner = self._waiting(index)
            else:
                snap = card.last or card._snapshot()
                fetching = card._fetching if snap.status == "completed" else None
                inner = card_html(snap, card._media, fetching=fetching,
                                  prompt_html=card._prompt_html, compact=True, width="none")
            cells.append(f'<div style="grid-column:span {span};min-width:0">{inner}</div>')
        return f'<div class="sora-nb-compare" style="{_GRID}">{"".join(cells)}</div>'

    def bundle(self) -> dict[str, Any]:
        """What a display of the grid shows now: plain HTML once final, else the live
        widget view (with the HTML snapshot and the short repr beside it)."""
        bundle = static_bundle(self._repr_html_(), repr(self))
        if not self.final and self._widgets:
            view = self.widget._repr_mimebundle_() or {}
            if WIDGET_VIEW in view:
                bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
        return bundle

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return filter_bundle(self.bundle(), include, exclude)

    def _ipython_display_(self) -> None:
        from ._show import ipy_display  # deferred: IPython only to display

        display_id = uuid.uuid4().hex
        with self._lock:
            self._display_ids.append(display_id)
        ipy_display(self.bundle(), raw=True, display_id=display_id)
        self._card_final(None)  # in case every card turned final meanwhile

    def _card_final(self, _card: JobCard | None) -> None:
        if not self.final:
            return
        with self._lock:
            ids = list(self._display_ids)
        if not ids:
            return
        bundle = static_bundle(self._repr_html_(), repr(self))
        for display_id in ids:
            update_display(bundle, display_id)


def _prompt_of(item: SoraJob | Slot) -> str:
    return item.original_prompt if isinstance(item, SoraJob) else item.prompt


def _job_of(item: SoraJob | Slot) -> SoraJob | None:
    return item if isinstance(item, SoraJob) else item.job


def _waiting_html(item: SoraJob | Slot) -> str:
    """The cell of a job not created yet: waiting in the create queue, or why it failed."""
    error = item.error if isinstance(item, Slot) else None
    text = ("waiting to be created" if error is None
            else f"not created: {type(error).__name__}: {error}")
    color = "#cf222e" if error is not None else "inherit"
    return (f'<div class="sora-nb-waiting" style="border:1px dashed rgba(127,127,127,.5);'
            f'border-radius:6px;padding:10px;font-size:12px;opacity:.8;color:{color}">'
            f"{html.escape(text)}</div>")


def _check_items(prompts_or_jobs: object) -> list[str | SoraJob]:
    if isinstance(prompts_or_jobs, (str, bytes)) or not isinstance(prompts_or_jobs, Sequence):
        raise SoraParameterError(
            "prompts_or_jobs", prompts_or_jobs, "a list of prompt strings and/or SoraJobs"
        )
    items = list(prompts_or_jobs)
    if not items:
        raise SoraParameterError("prompts_or_jobs", items, "at least one prompt or SoraJob")
    for item in items:
        if not isinstance(item, (str, SoraJob)):
            raise SoraParameterError(
                "prompts_or_jobs", item, "prompt strings and/or SoraJob objects only"
            )
    return items


def compare(prompts_or_jobs: Sequence[str | SoraJob], **params: Any) -> CompareGrid:
    """Start one job per prompt string (with ``params`` such as ``seconds=4`` or
    ``model=``) and put them, with any ``SoraJob`` given as is, in a grid. Every request is
    validated first; then the call returns at once and the backend's create queue makes
    the jobs (a few at a time, slowed by 429s), each cell turning into its live card.
    ``grid.wait()`` blocks for all; ``grid.jobs`` waits for the creates."""
    items = _check_items(prompts_or_jobs)
    slots = iter(start_creates([(p, params) for p in items if isinstance(p, str)]))
    return CompareGrid([p if isinstance(p, SoraJob) else next(slots) for p in items])


def sweep(prompt: str | Sequence[str], **options: Any) -> CompareGrid:
    """One job per combination of ``prompt`` and ``options``, in a grid that returns at
    once. Any option given as a list, tuple or range is swept; the requests are the
    cartesian product (prompts first, then the options in keyword order, the last varying
    fastest), e.g. ``sweep(p, seconds=[4, 8], size=["1280x720", "720x1280"])`` makes 4
    jobs. ``JobOptions`` keys are the job's options; any other keyword (``seed=range(20)``
    on a server that takes a seed) goes in ``extra``. A ``(w, h)`` ``size`` is one size."""
    return CompareGrid(start_creates(expand_sweep(prompt, options)))


def batch(requests: Sequence[Mapping[str, Any]]) -> CompareGrid:
    """One job per request dict (``{"prompt": ..., **JobOptions}``), in a grid that
    returns at once; the creates run through the backend's create queue."""
    return CompareGrid(start_creates(check_batch(requests)))


# -- gallery --------------------------------------------------------------------------


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
        self._display_ids: list[str] = []
        self._lock = threading.Lock()

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
        return self._note_html() + f'<div class="sora-nb-gallery" style="{_GRID}">{tiles}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return filter_bundle(static_bundle(self._repr_html_(), repr(self)), include, exclude)

    def _ipython_display_(self) -> None:
        from ._show import ipy_display  # deferred: IPython only to display

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

