"""Many jobs at once: ``compare()`` (live cards side by side, the words that differ between
prompts highlighted) and ``gallery()`` (past jobs as thumbnails that play on click)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._display import format_seconds
from ._errors import SoraJobFailed, SoraParameterError
from ._history import backend_history
from ._job import SoraJob
from ._many import Slot, check_batch, expand_sweep, start_creates
from ._runtime import runtime
from ._show import filter_bundle, inline_thumbnail, job_card_html
from ._store import HistoryEntry, cached_media, history
from ._types import Variant
from ._widget import WIDGET_VIEW, card_for, widgets_available

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["CompareGrid", "Gallery", "batch", "compare", "diff_words", "gallery", "sweep"]

_MARK = "background:rgba(255,212,59,.55);color:inherit;border-radius:2px;padding:0 1px"
_GRID = "display:grid;grid-template-columns:repeat(auto-fill,minmax({w}px,1fr));gap:10px"


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


class _GridDisplay:
    """What both grids show: the widget view where widgets render, plus an HTML snapshot
    and the short repr."""

    widget: Any

    def _repr_html_(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if widgets_available():
            view = self.widget._repr_mimebundle_() or {}
            if WIDGET_VIEW in view:
                bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
        return filter_bundle(bundle, include, exclude)


class CompareGrid(_GridDisplay):
    """Jobs side by side, each a live card under its prompt with the differing words
    highlighted. All are polled by the one runtime thread. A job still waiting in the
    create queue (``compare``, ``sweep``, ``batch`` return before the backend made them)
    shows as a "waiting to be created" cell that becomes its card."""

    def __init__(self, jobs: Sequence[SoraJob | Slot]) -> None:
        self.slots: list[SoraJob | Slot] = list(jobs)
        self.diffs = diff_words([_prompt_of(item) for item in self.slots])
        self._widget: Any = None

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

    @property
    def widget(self) -> Any:
        """The ipywidgets GridBox (built on first use)."""
        if self._widget is None:
            import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

            cells = [self._cell(item, words)
                     for item, words in zip(self.slots, self.diffs, strict=True)]
            self._widget = w.GridBox(cells, layout=w.Layout(
                grid_template_columns="repeat(auto-fill, minmax(340px, 1fr))", grid_gap="10px"
            ))
        return self._widget

    def _cell(self, item: SoraJob | Slot, words: list[tuple[str, bool]]) -> Any:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        head = w.HTML(f'<div style="font-size:13px">{diff_html(words)}</div>')
        job = _job_of(item)
        if job is not None:
            return w.VBox([head, card_for(job).widget])
        assert isinstance(item, Slot)  # a SoraJob always has its job
        cell = w.VBox([head, w.HTML(_waiting_html(item))])

        def created(slot: Slot) -> None:  # on the runtime thread: trait assignment only
            made = slot.job
            body = card_for(made).widget if made is not None else w.HTML(_waiting_html(slot))
            cell.children = (head, body)

        item.on_created(created)
        return cell

    def _repr_html_(self) -> str:
        cells = "".join(
            f'<div><div style="font-size:13px;margin-bottom:4px">{diff_html(words)}</div>'
            f"{job_card_html(job) if (job := _job_of(item)) is not None else _waiting_html(item)}"
            "</div>"
            for item, words in zip(self.slots, self.diffs, strict=True)
        )
        return f'<div class="sora-nb-compare" style="{_GRID.format(w=340)}">{cells}</div>'


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
            f'padding:10px;font-size:12px;opacity:.8;color:{color}">{html.escape(text)}</div>')


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


class Gallery(_GridDisplay):
    """Past jobs as tiles: thumbnail, status, prompt, model, duration. A tile's Play button
    swaps a video player in. Thumbnails come from the download cache, else are fetched in
    the background (jobs of the current backend only)."""

    def __init__(self, entries: Sequence[HistoryEntry], note: str | None = None) -> None:
        self.entries: list[HistoryEntry] = list(entries)
        #: One quiet line above the tiles, e.g. that the backend has no list of its own.
        self.note = note
        self._widget: Any = None
        self._tiles: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Gallery {len(self.entries)} jobs>"

    def __len__(self) -> int:
        return len(self.entries)

    def _info_html(self, entry: HistoryEntry) -> str:
        prompt = entry.original_prompt or entry.prompt
        if len(prompt) > 140:
            prompt = prompt[:137] + "..."
        color = {"completed": "#1a7f37", "failed": "#cf222e", "cancelled": "#424a53",
                 "expired": "#bf8700"}.get(entry.status, "#0969da")
        age = format_seconds(max(0.0, time.time() - entry.created_at))
        return (
            f'<div style="font-size:12px;line-height:1.4"><b style="color:{color}">'
            f"{html.escape(entry.status)}</b> · {html.escape(entry.model)} · "
            f"{html.escape(entry.size)} · {int(entry.seconds)}s · {html.escape(age)} ago<br>"
            f"<span>{html.escape(prompt)}</span><br>"
            f'<code style="font-size:10px;opacity:.7">{html.escape(entry.id)}</code></div>'
        )

    @property
    def widget(self) -> Any:
        """The ipywidgets GridBox of tiles (built on first use; thumbnails load async)."""
        if self._widget is None:
            import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

            tiles = [self._tile(entry) for entry in self.entries]
            self._widget = w.GridBox(tiles, layout=w.Layout(
                grid_template_columns="repeat(auto-fill, minmax(220px, 1fr))", grid_gap="10px"
            ))
            if self.note:
                self._widget = w.VBox([w.HTML(self._note_html()), self._widget])
        return self._widget

    def _tile(self, entry: HistoryEntry) -> Any:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        media = w.Box([w.HTML('<div style="height:90px;opacity:.5;font-size:12px">'
                              "no thumbnail</div>")])
        play = w.Button(description="Play", icon="play", disabled=entry.status != "completed",
                        layout=w.Layout(width="auto"))
        tile = w.VBox([media, w.HTML(self._info_html(entry)), play],
                      layout=w.Layout(border="1px solid rgba(127,127,127,.35)", padding="6px"))
        self._tiles[entry.id] = tile
        play.on_click(lambda _b: self.play(entry.id))
        if entry.status == "completed":
            self._load(entry.id, "thumbnail", media)
        return tile

    def _load(self, video_id: str, variant: Variant, media: Any) -> None:
        cached = cached_media(video_id, variant)
        if cached is not None:
            _set_media(media, cached, variant)
            return
        future = runtime.submit(_fetch(video_id, variant))

        def done(f: concurrent.futures.Future[Path]) -> None:
            try:
                _set_media(media, f.result(), variant)
            except Exception as exc:
                import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

                media.children = (w.HTML(f'<div style="font-size:11px;color:#cf222e">'
                                         f"{html.escape(str(exc))}</div>"),)

        future.add_done_callback(done)

    def play(self, video_id: str) -> None:
        """Swap the tile's thumbnail for a video player (the Play button)."""
        tile = self._tiles.get(video_id)
        if tile is None:
            raise SoraParameterError("video_id", video_id, "the id of a job in this gallery")
        self._load(video_id, "video", tile.children[0])

    def _repr_html_(self) -> str:
        tiles = []
        for entry in self.entries:
            thumb = inline_thumbnail(entry.id)
            img = "" if thumb is None else (
                f'<img src="{html.escape(thumb)}" alt="thumbnail" style="max-width:100%">'
            )
            tiles.append(
                '<div style="border:1px solid rgba(127,127,127,.35);padding:6px">'
                f"{img}{self._info_html(entry)}</div>"
            )
        return (self._note_html() + f'<div class="sora-nb-gallery" style="{_GRID.format(w=220)}">'
                + "".join(tiles) + "</div>")

    def _note_html(self) -> str:
        if not self.note:
            return ""
        return (f'<div class="sora-nb-gallery-note" style="font-size:11px;opacity:.65">'
                f"{html.escape(self.note)}</div>")


def _set_media(media: Any, path: Path, variant: str) -> None:
    import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

    if variant == "video":
        child = w.Video(value=path.read_bytes(), format="mp4", controls=True, autoplay=True,
                        loop=False, layout=w.Layout(max_width="100%", width="auto"))
    else:
        child = w.Image(value=path.read_bytes(), format=path.suffix.lstrip(".") or "webp",
                        layout=w.Layout(max_width="100%", width="auto"))
    media.children = (child,)


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

