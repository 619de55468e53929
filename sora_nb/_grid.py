"""Jobs side by side: ``compare()``, ``sweep()`` and ``batch()`` make a ``CompareGrid`` (live
cards, each prompt once with the words that differ marked, then plain HTML with a player
each), laid on the 6-track grid (``grid_spans``, ``GRID_STYLE``) the gallery shares."""

from __future__ import annotations

import functools
import html
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from ._display import card_html
from ._errors import SoraJobFailed, SoraParameterError
from ._job import SoraJob
from ._many import Slot, check_batch, expand_sweep, start_creates
from ._outputs import (
    filter_bundle,
    ipy_display,
    live_bundle,
    static_bundle,
    update_display,
    widgets_available,
)
from ._shared_parts import shared_html_style, shared_part
from ._widget import JobCard

__all__ = [
    "GRID_STYLE", "CompareGrid", "batch", "compare", "diff_html", "diff_words", "grid_spans",
    "sweep",
]

_MARK = "background:rgba(255,212,59,.55);color:inherit;border-radius:2px;padding:0 1px"
#: The compare grid and the gallery lay cells on 6 tracks: a cell spans 2 (three a row), 3
#: (two) or 6 (one), so 2 to 6 jobs fill their rows evenly (5 jobs: a row of three, then a
#: row of two).
_TRACKS = 6
#: The CSS of that grid's container, in the static HTML of both.
GRID_STYLE = (f"display:grid;grid-template-columns:repeat({_TRACKS},minmax(0,1fr));gap:10px;"
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
    keys = [tuple(_key(w) for w in ws) for ws in words]
    distinct = list(dict.fromkeys(keys))  # a sweep of 500 seeds has one prompt: one match
    common = list(distinct[0])
    for other in distinct[1:]:
        matcher = SequenceMatcher(None, common, other, autojunk=False)
        common = [k for block in matcher.get_matching_blocks()
                  for k in common[block.a:block.a + block.size]]
    shared_of: dict[tuple[str, ...], list[bool]] = {}
    for ks in distinct:
        shared = shared_of[ks] = [False] * len(ks)
        matcher = SequenceMatcher(None, ks, common, autojunk=False)
        for block in matcher.get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                shared[i] = True
    return [[(w, not s) for w, s in zip(ws, shared_of[ks], strict=True)]
            for ws, ks in zip(words, keys, strict=True)]


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
        # grid_area, not grid_column: JupyterLab 4's widget manager (jupyterlab_widgets
        # 3.0.17) leaves a Layout's grid_column and grid_row off the page (seen in Chromium:
        # every cell one track wide, six narrow cards a row), while grid_area reaches it
        area = f"auto / span {self._spans[index]}"
        if card is not None and card.widget is not None:
            cell = card.widget
            cell.layout.grid_area = area
            cell.layout.max_width = "none"
            return cell
        # a waiting cell is one comm: its style and its layout (one per span) are shared
        layout = shared_part(f"grid-cell-{area}", lambda: w.Layout(
            grid_area=area, max_width="none"))
        return w.HTML(self._waiting(index), layout=layout,
                      style=shared_html_style())

    def _created(self, index: int, slot: Slot) -> None:
        # On the runtime thread: the waiting cell becomes the job's card (trait assignment
        # only), or says why the create failed.
        if self._widget is not None:
            waiting, self._cells[index] = self._cells[index], self._cell_widget(index)
            self._widget.children = tuple(self._cells)
            if waiting is not self._cells[index]:
                waiting.close()  # its comm too: the page forgets the placeholder's model
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
        return f'<div class="sora-nb-compare" style="{GRID_STYLE}">{"".join(cells)}</div>'

    def bundle(self) -> dict[str, Any]:
        """What a display of the grid shows now: plain HTML once final, else the live
        widget view (with the HTML snapshot and the short repr beside it)."""
        markup, text = self._repr_html_(), repr(self)
        if not self.final and self._widgets:
            return live_bundle(markup, text, self.widget)
        return static_bundle(markup, text)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return filter_bundle(self.bundle(), include, exclude)

    def _ipython_display_(self) -> None:
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
