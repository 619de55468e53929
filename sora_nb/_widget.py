"""The live notebook card of a job: ``JobCard`` (ipywidgets bound to the job through a weak
reference, throttled updates from the runtime thread) and its base ``CardView``."""

from __future__ import annotations

import contextlib
import html
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import in_kernel
from ._display import INDETERMINATE_CSS, header_html, status_html
from ._errors import SoraParameterError
from ._runtime import runtime
from ._types import JobSnapshot

if TYPE_CHECKING:
    import concurrent.futures

    from ._job import SoraJob

__all__ = [
    "BAR_STYLES",
    "VIDEO_WIDGET_LIMIT",
    "WIDGET_VIEW",
    "CardView",
    "JobCard",
    "card_for",
    "widgets_available",
]

#: ``IntProgress.bar_style`` for each status ('' is the neutral grey of a queued job).
BAR_STYLES: dict[str, str] = {
    "queued": "",
    "in_progress": "info",
    "completed": "success",
    "failed": "danger",
    "cancelled": "",  # neutral: stopped on the server, not an error of the render
    "expired": "warning",  # amber, as on the HTML card
}
#: Videos above this size are not pushed through the comm: the card shows the thumbnail
#: and says to use ``job.show()`` (which links the file instead of sending its bytes).
VIDEO_WIDGET_LIMIT = 25 * 1024 * 1024
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widgets_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets importable: the only place a widget
    view can render. Elsewhere sora_nb falls back to HTML."""
    if not in_kernel():
        return False
    try:
        import ipywidgets  # noqa: F401  # deferred: the check is whether it imports
    except ImportError:
        return False
    return True


class CardView:
    """Widgets that show job snapshots: header, progress bar (its ``bar_style`` follows the
    status), status line, a Cancel button and a media area. ``push(snap)`` may be called
    from any thread; it only assigns traits, inside ``hold_sync``, at most once per
    ``min_interval`` seconds, and always delivers the latest state: the terminal one at
    once, any other by a trailing flush scheduled on the runtime loop."""

    def __init__(self, *, min_interval: float = 0.2, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        if not min_interval >= 0:
            raise SoraParameterError("min_interval", min_interval, "seconds >= 0")
        self.header = w.HTML()
        self.progress = w.IntProgress(
            value=0, min=0, max=100, bar_style="", layout=w.Layout(flex="1 1 auto", width="auto")
        )
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", tooltip="stop polling this job",
            layout=w.Layout(width="auto"),
        )
        self.status = w.HTML()
        self.media = w.Box(layout=w.Layout(flex_flow="column"))
        self.widget = w.VBox(
            [self.header, w.HBox([self.progress, self.cancel_button]), self.status, self.media],
            layout=w.Layout(
                border="1px solid rgba(127,127,127,.35)", padding="4px 10px", max_width="680px"
            ),
        )
        self._min_interval = min_interval
        self._clock = clock
        self._lock = threading.RLock()
        self._pending: JobSnapshot | None = None
        self._last_flush = float("-inf")
        self._scheduled = False
        self._closed = False
        self.last: JobSnapshot | None = None
        self.flushes = 0

    def push(self, snap: JobSnapshot) -> None:
        """Show ``snap`` now, or soon if the last update was less than min_interval ago."""
        with self._lock:
            if self._closed:
                return
            self._pending = snap
            wait = self._min_interval - (self._clock() - self._last_flush)
            if wait <= 0 or snap.terminal or snap.poll_state != "active":
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
        self.last = snap
        with self._hold():
            self.header.value = header_html(snap)
            unknown = snap.progress is None and not snap.terminal
            # no progress reported: a full bar with moving stripes (INDETERMINATE_CSS)
            self.progress.value = 100 if unknown else max(0, min(100, int(snap.progress or 0)))
            if unknown:
                self.progress.add_class("sora-nb-indeterminate")
            else:
                self.progress.remove_class("sora-nb-indeterminate")
            style = BAR_STYLES.get(snap.status, "")
            if not snap.terminal and snap.poll_state != "active":
                style = "warning"
            self.progress.bar_style = style
            self.status.value = (INDETERMINATE_CSS if unknown else "") + status_html(snap)
            self.cancel_button.disabled = snap.terminal or snap.poll_state != "active"
        self.on_flush(snap)

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for widget in (self.header, self.progress, self.status, self.cancel_button):
                stack.enter_context(widget.hold_sync())
            yield

    def on_flush(self, snap: JobSnapshot) -> None:
        """Hook for subclasses: called (under the lock) after ``snap`` was shown."""

    def set_media(self, *children: Any) -> None:
        """Replace what the media area shows (any thread)."""
        self.media.children = tuple(children)


class JobCard(CardView):
    """The live card of one job. It holds the job only through a weak reference (the job
    holds the card through its observer list), so a card never keeps a job alive. Once the
    job completes it shows the thumbnail, then the video player in place (``media=True``)."""

    def __init__(self, job: SoraJob, *, media: bool = True, min_interval: float = 0.2,
                 video_limit: int = VIDEO_WIDGET_LIMIT) -> None:
        super().__init__(min_interval=min_interval)
        self._job: weakref.ref[SoraJob] = weakref.ref(job)
        self._want_media = media
        self._media_started = False
        self._video_limit = video_limit
        self.cancel_button.on_click(lambda _button: self.cancel())
        # The unsubscribe function job.on_progress returns closes over the job: keeping it
        # would make the card hold the job strongly. close() detaches by a flag instead.
        job.on_progress(self.push)

    @property
    def job(self) -> SoraJob | None:
        """The job this card shows, or ``None`` once it was garbage-collected."""
        return self._job()

    def cancel(self) -> None:
        """Stop polling the job (the Cancel button). The card shows the note; the warning
        ``job.cancel()`` gives is for code, not for a click."""
        job = self._job()
        if job is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                job.cancel()

    def close(self) -> None:
        """Stop following the job (later snapshots are ignored) and close the widgets."""
        with self._lock:
            self._closed = True
        for child in (*self.media.children, self.header, self.progress, self.cancel_button,
                      self.status, self.media, *self.widget.children, self.widget):
            child.close()

    def on_flush(self, snap: JobSnapshot) -> None:
        """Once the job completed, fetch the thumbnail, then the video, into the card."""
        if snap.status != "completed" or not self._want_media or self._media_started:
            return
        job = self._job()
        if job is None:
            return
        self._media_started = True
        runtime.submit(job.async_download("thumbnail")).add_done_callback(self._thumbnail_ready)

    def _thumbnail_ready(self, future: concurrent.futures.Future[Path]) -> None:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        thumb: Any = None
        try:
            path = future.result()
            thumb = w.Image(value=path.read_bytes(), format=path.suffix.lstrip(".") or "webp",
                            layout=w.Layout(max_width="100%", width="auto"))
            self.set_media(thumb)
        except Exception as exc:  # a missing thumbnail must not hide the video
            self.set_media(w.HTML(_note(f"no thumbnail: {exc}")))
        job = self._job()
        if job is not None:
            runtime.submit(job.async_download("video")).add_done_callback(
                lambda f: self._video_ready(f, thumb)
            )

    def _video_ready(self, future: concurrent.futures.Future[Path], thumb: Any) -> None:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets

        try:
            path = future.result()
            size = path.stat().st_size
            if size > self._video_limit:
                hint = w.HTML(_note(
                    f"video is {size / 1e6:.0f} MB, too large to send to the page: "
                    "use job.show() to play it from the file"
                ))
                self.set_media(*(c for c in (thumb, hint) if c is not None))
                return
            video = w.Video(value=path.read_bytes(), format="mp4", controls=True,
                            autoplay=False, loop=False,
                            layout=w.Layout(max_width="100%", width="auto"))
            self.set_media(video)
        except Exception as exc:
            note = w.HTML(_note(f"video download failed: {exc}", error=True))
            self.set_media(*(c for c in (thumb, note) if c is not None))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        return bundle


def _note(text: str, *, error: bool = False) -> str:
    color = "color:#cf222e;" if error else "opacity:.75;"
    return f'<div style="font-size:12px;{color}">{html.escape(text)}</div>'


_cards: weakref.WeakKeyDictionary[SoraJob, JobCard] = weakref.WeakKeyDictionary()
_cards_lock = threading.Lock()


def card_for(job: SoraJob) -> JobCard:
    """The job's live card, created on first use; displaying a job twice shows two views
    of one widget model, not two cards polling the same job."""
    with _cards_lock:
        card = _cards.get(job)
        if card is None:
            card = _cards[job] = JobCard(job)
        return card
