"""The live notebook view of a job: ``JobCard`` (ipywidgets bound to the job through a weak
reference, throttled updates from the runtime thread), the job's mimebundle, and show()."""

from __future__ import annotations

import contextlib
import io
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import in_kernel
from ._display import (
    INDETERMINATE_CSS,
    _check_width,
    header_html,
    ipy_display,
    job_html,
    show_media,
    status_html,
)
from ._errors import SoraParameterError
from ._types import VARIANTS, JobSnapshot, Variant

if TYPE_CHECKING:
    import concurrent.futures

    from ._job import SoraJob

__all__ = [
    "BAR_STYLES",
    "VIDEO_WIDGET_LIMIT",
    "CardView",
    "JobCard",
    "SpriteScrubber",
    "card_for",
    "job_mimebundle",
    "show_job",
    "sprite_grid",
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
        import ipywidgets  # noqa: F401
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
        import ipywidgets as w

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
                from ._runtime import runtime

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

    def show_media(self, *children: Any) -> None:
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
        if snap.status != "completed" or not self._want_media or self._media_started:
            return
        job = self._job()
        if job is None:
            return
        self._media_started = True
        job.download_future("thumbnail").add_done_callback(self._thumbnail_ready)

    def _thumbnail_ready(self, future: concurrent.futures.Future[Path]) -> None:
        import ipywidgets as w

        thumb: Any = None
        try:
            path = future.result()
            thumb = w.Image(value=path.read_bytes(), format=path.suffix.lstrip(".") or "webp",
                            layout=w.Layout(max_width="100%", width="auto"))
            self.show_media(thumb)
        except Exception as exc:  # a missing thumbnail must not hide the video
            self.show_media(w.HTML(_note(f"no thumbnail: {exc}")))
        job = self._job()
        if job is not None:
            job.download_future("video").add_done_callback(
                lambda f: self._video_ready(f, thumb)
            )

    def _video_ready(self, future: concurrent.futures.Future[Path], thumb: Any) -> None:
        import ipywidgets as w

        try:
            path = future.result()
            size = path.stat().st_size
            if size > self._video_limit:
                hint = w.HTML(_note(
                    f"video is {size / 1e6:.0f} MB, too large to send to the page: "
                    "use job.show() to play it from the file"
                ))
                self.show_media(*(c for c in (thumb, hint) if c is not None))
                return
            video = w.Video(value=path.read_bytes(), format="mp4", controls=True,
                            autoplay=False, loop=False,
                            layout=w.Layout(max_width="100%", width="auto"))
            self.show_media(video)
        except Exception as exc:
            note = w.HTML(_note(f"video download failed: {exc}", error=True))
            self.show_media(*(c for c in (thumb, note) if c is not None))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        return bundle


def _note(text: str, *, error: bool = False) -> str:
    import html

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


def job_mimebundle(job: SoraJob, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The job's display: the live widget view where widgets render, plus an escaped HTML
    snapshot (shown by front ends without the widget manager, nbconvert, GitHub) and the
    short repr. Outside a kernel, or without ipywidgets, HTML and text only."""
    snap = job.snapshot()
    bundle: dict[str, Any] = {"text/plain": repr(job), "text/html": job_html(snap)}
    if widgets_available():
        card = card_for(job)
        view = card.widget._repr_mimebundle_() or {}
        if WIDGET_VIEW in view:
            bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def _wait_with_html_card(job: SoraJob, min_interval: float = 0.2) -> None:
    """Without widgets: an HTML card displayed with a display_id and updated in place from
    the calling thread (never from the runtime thread) until the job settles."""
    changed = threading.Event()
    settled = threading.Event()
    latest: list[JobSnapshot] = [job.snapshot()]

    def observe(snap: JobSnapshot) -> None:
        latest[0] = snap
        if snap.terminal or snap.poll_state != "active":
            settled.set()
        changed.set()

    handle = ipy_display(
        {"text/html": job_html(latest[0]), "text/plain": repr(job)}, raw=True, display_id=True
    )
    shown = latest[0]
    unsubscribe = job.on_progress(observe)
    try:
        while True:
            changed.wait()
            changed.clear()
            snap = latest[0]
            if snap != shown and handle is not None:
                handle.update({"text/html": job_html(snap), "text/plain": repr(job)}, raw=True)
                shown = snap
            if snap.terminal or snap.poll_state != "active":
                return
            settled.wait(min_interval)  # at most one update per min_interval, but no delay
            # for the final state: ``settled`` ends this pause at once
    finally:
        unsubscribe()


def show_job(job: SoraJob, variant: Variant = "video", *, embed: bool = False,
             width: int | None = None) -> None:
    """``job.show()``: if unfinished, display the live card and wait; then download the
    variant (cached) and display it: the video as a ``<video>`` element, the thumbnail as
    an image, the spritesheet as a frame scrubber (an image where widgets cannot render)."""
    if variant not in VARIANTS:
        raise SoraParameterError("variant", variant, "'video', 'thumbnail' or 'spritesheet'")
    if not isinstance(embed, bool):
        raise SoraParameterError("embed", embed, "True or False")
    _check_width(width)
    from IPython import get_ipython

    widgets = widgets_available()
    if not job.done:
        if widgets:
            ipy_display(JobCard(job, media=False))
        elif get_ipython() is not None and getattr(get_ipython(), "kernel", None) is not None:
            _wait_with_html_card(job)
    job.wait()
    path = job.download(variant)
    if variant == "video":
        show_media(path, "video", embed=embed, width=width)
    elif variant == "thumbnail" or not widgets:
        show_media(path, "image", embed=embed, width=width)
    else:
        ipy_display(SpriteScrubber(path, aspect=_aspect(job.size), width=width))


def _aspect(size: str) -> float | None:
    try:
        w, h = (int(x) for x in size.lower().split("x"))
    except ValueError:
        return None
    return w / h if w > 0 and h > 0 else None


# -- spritesheet ----------------------------------------------------------------------


def sprite_grid(image: Any, aspect: float | None = None, max_tiles: int = 20
                ) -> tuple[int, int]:
    """Guess ``(cols, rows)`` of a spritesheet (a PIL image): among grids whose tiles divide
    the sheet evenly (and match ``aspect``, the video's width/height, within 4%), the finest
    whose every internal boundary is a visible seam (a jump in brightness between
    neighbouring pixel columns or rows well above the image's typical one). ``(1, 1)`` when
    no grid shows."""
    import numpy as np

    a = np.asarray(image.convert("L"), dtype=np.float32)
    height, width = a.shape
    col_jump = np.abs(np.diff(a, axis=1)).mean(axis=0)
    row_jump = np.abs(np.diff(a, axis=0)).mean(axis=1)

    def seams(jumps: Any, n: int) -> bool:
        if n == 1:
            return True
        length = len(jumps) + 1
        at = np.array([k * length // n - 1 for k in range(1, n)])
        threshold = 3 * float(np.median(jumps)) + 2.0
        return bool((jumps[at] > threshold).mean() >= 0.8)

    best = (1, 1)
    for cols in range(1, max_tiles + 1):
        if width % cols:
            continue
        for rows in range(1, max_tiles + 1):
            if height % rows or cols * rows <= best[0] * best[1]:
                continue
            tile = (width / cols) / (height / rows)
            if aspect is not None and abs(tile / aspect - 1) > 0.04:
                continue
            if seams(col_jump, cols) and seams(row_jump, rows):
                best = (cols, rows)
    return best


class SpriteScrubber:
    """A spritesheet as a scrubbable frame view: an ``IntSlider`` over the tiles and an
    ``Image`` showing the selected one (cropped in Python, so it works in untrusted
    notebooks where output JavaScript would not run). ``cols``/``rows`` override the
    detected grid."""

    def __init__(self, path: str | Path, *, aspect: float | None = None, cols: int | None = None,
                 rows: int | None = None, width: int | None = None) -> None:
        import ipywidgets as w
        from PIL import Image

        with Image.open(path) as img:
            sheet = img.convert("RGB")
        if cols is None or rows is None:
            cols, rows = sprite_grid(sheet, aspect)
        for name, value in (("cols", cols), ("rows", rows)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SoraParameterError(name, value, "a positive number of tiles")
        tw, th = sheet.width // cols, sheet.height // rows
        self.frames: list[bytes] = []
        for index in range(cols * rows):
            x, y = (index % cols) * tw, (index // cols) * th
            buf = io.BytesIO()
            sheet.crop((x, y, x + tw, y + th)).save(buf, format="JPEG", quality=90)
            self.frames.append(buf.getvalue())
        self.grid = (cols, rows)
        self.image = w.Image(value=self.frames[0], format="jpeg",
                             width=str(width) if width else "", layout=w.Layout(max_width="100%"))
        self.slider = w.IntSlider(value=0, min=0, max=len(self.frames) - 1,
                                  description="frame", continuous_update=True,
                                  layout=w.Layout(width="100%"))
        self.slider.observe(self._on_frame, names="value")
        self.widget = w.VBox([self.image, self.slider])

    def _on_frame(self, change: dict[str, Any]) -> None:
        self.image.value = self.frames[int(change["new"])]

    def __repr__(self) -> str:
        cols, rows = self.grid
        return f"<SpriteScrubber {cols}x{rows} frames>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        if bundle is not None:  # not the VBox's dump of its children's JPEG bytes
            bundle["text/plain"] = repr(self)
        return bundle
