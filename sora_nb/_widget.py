"""A job's card in a notebook: live ipywidgets while the job runs, then, once it reaches a
final state, a plain HTML bundle (status, prompt, poster and a playable ``<video>``
linked from ./sora_nb_media/) that outlives the kernel: every display of the card is
replaced by it through its display id (``_outputs`` says how).

Light on the wire: the live card is one HTML widget (head, prompt, status line), one
progress bar and a Cancel button: 9 comms for the first card, 6 for each further one (the
unchanging style and layout parts are shared), a few kB of updates, and no media bytes
(media are files the page loads by URL)."""

from __future__ import annotations

import threading
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._display import (
    FINAL_STATUSES,
    INDETERMINATE_CLASS,
    LIVE_CLASS,
    STOPPED_COLOR,
    CardMedia,
    card_html,
    live_bar_text,
    live_class,
    live_head_html,
    status_color,
)
from ._errors import SoraParameterError
from ._outputs import (
    DisplayIds,
    filter_bundle,
    ipy_display,
    live_bundle,
    static_bundle,
    widgets_available,
)
from ._runtime import runtime
from ._shared_parts import shared_html_style, shared_part
from ._types import JobSnapshot

if TYPE_CHECKING:
    import concurrent.futures

    from ._job import SoraJob

__all__ = ["BAR_STYLES", "JobCard", "card_for", "shown_card"]

#: ``IntProgress.bar_style`` per status: keeps the page's CSS classes meaningful (tests and
#: themes read them); the exact colour comes from ``style.bar_color`` (the card's palette).
BAR_STYLES: dict[str, str] = {"in_progress": "info", "completed": "success",
                              "failed": "danger"}
#: A thumbnail shown inside a widget (a grid cell before the grid turns static) is sent
#: through the comm as a small JPEG data URI: at most this wide.
INLINE_POSTER_WIDTH = 360
#: The poster of a card's player: a JPEG data URI this wide (JupyterLab resolves relative
#: ``src`` and ``href`` in outputs but not ``poster``; a few kB in the notebook instead).
CARD_POSTER_WIDTH = 640


def _settled(snap: JobSnapshot) -> bool:
    return snap.status in FINAL_STATUSES or snap.poll_state != "active"


class JobCard:
    """The card of one job. ``push(snap)`` (any thread) updates it, throttled to one
    update per ``min_interval`` seconds except for settled states, which go out at once.

    It holds the job through a weak reference (the job holds the card through its
    observer list). ``display()`` shows it with a new display id; every display turns
    into the static bundle when the job is final. ``prompt_html`` replaces the prompt
    (a compare grid passes the prompt with its differing words marked)."""

    def __init__(self, job: SoraJob, *, widgets: bool | None = None, min_interval: float = 0.2,
                 prompt_html: str | None = None, fetch_media: bool = True,
                 width: str = "640px",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not min_interval >= 0:
            raise SoraParameterError("min_interval", min_interval, "seconds >= 0")
        self._job: weakref.ref[SoraJob] = weakref.ref(job)
        self._widgets = widgets_available() if widgets is None else widgets
        self._min_interval = min_interval
        self._prompt_html = prompt_html
        self._width = width
        self._fetch_media = fetch_media
        self._clock = clock
        self._lock = threading.RLock()
        self._pending: JobSnapshot | None = None
        self._last_flush = float("-inf")
        self._scheduled = False
        self._closed = False
        self._fetching: str | None = None
        self._media: CardMedia | None = None
        self._media_started = False
        self._player = True
        self._displays = DisplayIds()
        self._media_paths: dict[str, Path] = {}
        self._thumb_note: str | None = None
        self._final_listeners: list[Callable[[JobCard], None]] = []
        self.last: JobSnapshot | None = None
        self.final = False
        self.flushes = 0
        self.widget: Any = None
        if self._widgets:
            self._build_widgets()
        job.on_progress(self.push)

    # -- widgets ------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        # One layout shared by the box, the HTML and the bar (each Layout is a comm); the
        # parts no card changes (the HTML's style, the button's style and layout) are shared
        # by every card, so a 20-card grid does not open 20 identical copies of each.
        shared = w.Layout(width="auto", max_width="640px")  # the static card's width
        self.head = w.HTML(layout=shared, style=shared_html_style())
        self.progress = w.IntProgress(value=0, min=0, max=100, layout=shared,
                                      style={"description_width": "initial"})
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", tooltip="stop polling this job here",
            layout=shared_part("button-layout",
                               lambda: w.Layout(width="auto", align_self="flex-start")),
            style=shared_part("button-style", w.ButtonStyle),
        )
        self.cancel_button.on_click(lambda _button: self.cancel())
        self.widget = w.VBox([self.head, self.progress, self.cancel_button], layout=shared)
        self.widget.add_class(LIVE_CLASS)

    @property
    def job(self) -> SoraJob | None:
        return self._job()

    def cancel(self) -> None:
        """Stop polling the job (the Cancel button); the card says so."""
        job = self._job()
        if job is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                job.cancel()

    # -- updates --------------------------------------------------------------------------

    def push(self, snap: JobSnapshot) -> None:
        """Show ``snap`` now, or soon if the last update was less than min_interval ago."""
        with self._lock:
            if self._closed:
                return
            self._pending = snap
            wait = self._min_interval - (self._clock() - self._last_flush)
            if wait <= 0 or _settled(snap):
                self._flush_locked()
            elif not self._scheduled:
                self._scheduled = True
                loop = runtime.loop
                loop.call_soon_threadsafe(loop.call_later, wait, self._trailing_flush)

    def _trailing_flush(self) -> None:
        with self._lock:
            self._scheduled = False
            if self._pending is not None and not self._closed:
                self._flush_locked()

    def _flush_locked(self) -> None:
        snap, self._pending = self._pending, None
        if snap is None:
            return
        self._last_flush = self._clock()
        self.flushes += 1
        previous, self.last = self.last, snap
        if snap.status == "completed" and self._fetch_media and not self._media_started:
            self._media_started = True
            self._fetching = "fetching the thumbnail…"
            self._start_media()
        self._render_locked(previous)

    def _render_locked(self, previous: JobSnapshot | None = None) -> None:
        snap = self.last
        if snap is None:
            return
        fetching = self._fetching if snap.status == "completed" else None
        final = snap.status in FINAL_STATUSES and fetching is None
        if self.widget is not None:
            self._render_widgets(snap, fetching, final)
        if final and not self.final:
            self.final = True
            listeners = list(self._final_listeners)
        else:
            listeners = []
        self._publish_locked(snap, final)
        for fn in listeners:
            fn(self)

    def _render_widgets(self, snap: JobSnapshot, fetching: str | None, final: bool) -> None:
        if final:
            # Inside a live grid: the whole card as HTML (a small poster, no player: the
            # grid's static form, a moment later, has the players).
            media = self._media
            from ._show import poster_uri  # deferred: _show imports this module

            thumb = self._media_paths.get("thumbnail")
            poster = poster_uri(thumb, INLINE_POSTER_WIDTH) if media and thumb else None
            inline = CardMedia(poster=poster, note=None) if poster else None
            with self.head.hold_sync():
                self.head.value = card_html(snap, inline, prompt_html=self._prompt_html,
                                            footer=False, width=self._width)
            self.widget.children = (self.head,)
            return
        value = None if snap.progress is None else max(0, min(100, int(snap.progress)))
        stopped = snap.poll_state not in ("active", "done")
        color = STOPPED_COLOR if stopped else status_color(snap.status)
        with self.head.hold_sync(), self.progress.hold_sync():
            self.head.value = live_head_html(snap, fetching, prompt_html=self._prompt_html)
            self.progress.description = live_bar_text(snap, fetching)
            self.progress.value = 100 if fetching or value is None else value
            self.progress.bar_style = "warning" if stopped else BAR_STYLES.get(snap.status, "")
            self.progress.style.bar_color = color
            if value is None and not fetching:
                self.progress.add_class(INDETERMINATE_CLASS)
            else:
                self.progress.remove_class(INDETERMINATE_CLASS)
        frame = live_class(snap)
        for cls in list(self.widget._dom_classes):
            if cls.startswith(f"{LIVE_CLASS}-") and cls != frame:
                self.widget.remove_class(cls)
        self.widget.add_class(frame)
        # Cancel only while it can do something
        wanted = ((self.head, self.progress) if stopped or fetching
                  else (self.head, self.progress, self.cancel_button))
        if tuple(self.widget.children) != wanted:
            self.widget.children = wanted

    # -- media ----------------------------------------------------------------------------

    def _start_media(self) -> None:
        job = self._job()
        if job is None:
            self._fetching = None
            return
        runtime.submit(job.async_download("thumbnail")).add_done_callback(
            self._thumbnail_ready)

    def _thumbnail_ready(self, future: concurrent.futures.Future[Path]) -> None:
        note = None
        try:
            self._media_paths["thumbnail"] = future.result()
        except Exception as exc:  # a missing thumbnail must not hide the video
            note = f"no thumbnail: {exc}"
        job = self._job()
        with self._lock:
            self._fetching = "fetching the video…"
            self._thumb_note = note
            self._render_locked()
        if job is not None:
            runtime.submit(job.async_download("video")).add_done_callback(self._video_ready)

    def _video_ready(self, future: concurrent.futures.Future[Path]) -> None:
        from ._show import poster_uri, publish_media  # deferred: _show imports this module

        note = self._thumb_note
        video = poster = path = None
        try:
            cached = future.result()
            video = publish_media(cached)
            path = video
        except Exception as exc:
            note = f"video download failed: {exc}"
        thumb = self._media_paths.get("thumbnail")
        if thumb is not None:
            poster = poster_uri(thumb, CARD_POSTER_WIDTH)
        with self._lock:
            self._media = CardMedia(video=_url(video), poster=poster, path=path,
                                    note=note, player=self._player)
            self._fetching = None
            self._render_locked()

    def give_player_away(self) -> None:
        """``job.show()`` plays the video below: this card keeps the poster only, so one
        job never shows two players."""
        with self._lock:
            self._player = False
            if self._media is not None:
                self._media = replace(self._media, player=False)
            if self.last is not None:
                self._publish_locked(self.last, self.final)

    # -- displays -------------------------------------------------------------------------

    def bundle(self) -> dict[str, Any]:
        """What a display of this card shows now: the static bundle once settled, else the
        widget view (with the HTML snapshot and the short repr beside it)."""
        with self._lock:
            snap = self.last or self._snapshot()
            if self._is_static(snap) or self.widget is None:
                return static_bundle(self._static_html(snap), self._text())
            return live_bundle(self._static_html(snap), self._text(), self.widget)

    def _snapshot(self) -> JobSnapshot:
        job = self._job()
        if job is None:
            raise RuntimeError("the job of this card is gone")
        return job.snapshot()

    def _is_static(self, snap: JobSnapshot) -> bool:
        if snap.status in FINAL_STATUSES:
            return self.final or not self._fetch_media
        return snap.poll_state != "active" or self.widget is None

    def _static_html(self, snap: JobSnapshot) -> str:
        fetching = self._fetching if snap.status == "completed" else None
        return card_html(snap, self._media, fetching=fetching, prompt_html=self._prompt_html,
                         width=self._width)

    def _text(self) -> str:
        job = self._job()
        return repr(job) if job is not None else "<SoraJob (gone)>"

    def display(self) -> str:
        """Display the card in the current cell (calling thread) with a new display id;
        returns the id."""
        with self._lock:
            bundle = self.bundle()
            display_id = self._displays.add(bundle)
        ipy_display(bundle, raw=True, display_id=display_id)
        return display_id

    def _publish_locked(self, snap: JobSnapshot, final: bool) -> None:
        """Bring every display up to date: the static bundle once settled (and, without
        widgets, as the live view too), the widget view while live (so ``job.resume()``
        after a cancel brings the live card back). Unchanged displays are left alone."""
        if self._displays:
            self._displays.update(self.bundle())

    def on_final(self, fn: Callable[[JobCard], None]) -> None:
        """Call ``fn(card)`` once the card is final (now, if it already is)."""
        with self._lock:
            if not self.final:
                self._final_listeners.append(fn)
                return
        fn(self)

    def close(self) -> None:
        """Stop following the job and close the widgets."""
        with self._lock:
            self._closed = True
        if self.widget is not None:
            for child in (self.head, self.progress, self.cancel_button, self.widget):
                child.close()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The card's current bundle (the ``_repr_mimebundle_`` protocol)."""
        return filter_bundle(self.bundle(), include, exclude)

    def _ipython_display_(self) -> None:
        self.display()


def _url(rel: str | None) -> str | None:
    from urllib.parse import quote  # deferred: only media links need it

    return None if rel is None else quote(rel)


_cards: weakref.WeakKeyDictionary[SoraJob, JobCard] = weakref.WeakKeyDictionary()
_cards_lock = threading.Lock()


def card_for(job: SoraJob) -> JobCard:
    """The job's card, created on first use: displaying a job twice shows one card twice
    (one widget model, two display ids), not two cards polling the same job."""
    with _cards_lock:
        card = _cards.get(job)
        if card is None:
            card = _cards[job] = JobCard(job)
        return card


def shown_card(job: SoraJob) -> JobCard | None:
    """The job's card if it exists and has been displayed."""
    with _cards_lock:
        card = _cards.get(job)
    return card if card is not None and card._displays else None
