"""The terminal progress bar: one line rewritten in place with ``\\r`` (status, percent,
elapsed), fed with job snapshots by ``wait()`` in a terminal (``terminal_progress``)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from ._config import in_kernel
from ._display import FINAL_STATUSES, format_seconds, short_id, status_word
from ._errors import SoraParameterError
from ._types import JobSnapshot

__all__ = ["TextProgress", "terminal_progress"]


class TextProgress:
    """A callable observer that draws ``snap`` as one terminal line; ``close()`` ends it.

    Safe to call from the runtime thread while ``close()`` comes from another: one lock
    guards every write. Identical lines are not rewritten."""

    def __init__(self, stream: TextIO | None = None, *, width: int = 20) -> None:
        if isinstance(width, bool) or not isinstance(width, int) or not 5 <= width <= 200:
            raise SoraParameterError("width", width, "an int from 5 to 200 (bar cells)")
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._lock = threading.Lock()
        self._last = ""
        self._drawn = 0
        self._closed = False

    def render(self, snap: JobSnapshot) -> str:
        """The line for ``snap`` (no ``\\r``), at most 79 columns, e.g.
        ``video_68d7512d [#####-----]  42% in progress 12s, about 17s left``."""
        progress = snap.progress
        full = snap.status in FINAL_STATUSES
        shown = 100 if full else (progress or 0)
        filled = max(0, min(self._width, round(shown * self._width / 100)))
        bar = "#" * filled + "-" * (self._width - filled)
        percent = "   " if progress is None and not full else f"{shown:3d}"
        parts = [f"{short_id(snap.id)} [{bar}] {percent}% {status_word(snap.status)}",
                 format_seconds(snap.elapsed)]
        if snap.from_cache:
            parts[-1] = "from cache"
        if (snap.eta is not None and snap.eta >= 1 and snap.status == "in_progress"
                and progress is not None and snap.poll_state == "active"):
            parts[-1] += f", about {format_seconds(snap.eta)} left"
        if snap.poll_state not in ("active", "done"):
            parts.append(f"(polling {status_word(snap.poll_state)})")
        if snap.error is not None:  # the code first: the message may not fit the line
            parts[1:] = [f"({snap.error.code})", snap.error.message]
        line = " ".join(parts).replace("\n", " ").replace("\r", " ")
        return line if len(line) <= 79 else line[:78] + "…"

    def __call__(self, snap: JobSnapshot) -> None:
        line = self.render(snap)
        with self._lock:
            if self._closed or line == self._last:
                return
            pad = " " * max(0, self._drawn - len(line))
            self._stream.write("\r" + line + pad)
            self._stream.flush()
            self._last = line
            self._drawn = len(line)

    def close(self) -> None:
        """End the line (once); later snapshots are ignored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._drawn:
                self._stream.write("\n")
                self._stream.flush()

    def __enter__(self) -> TextProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def terminal_progress(wanted: bool | None) -> TextProgress | None:
    """The bar ``job.wait(progress=wanted)`` draws: ``True`` always, ``False`` never,
    ``None`` only when stderr is a terminal outside a Jupyter kernel."""
    if wanted is False or (wanted is None and (in_kernel() or not sys.stderr.isatty())):
        return None
    return TextProgress(stream=sys.stderr)
