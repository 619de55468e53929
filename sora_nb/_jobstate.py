"""The observable state of a job: its properties, ``snapshot()``, the observers that
``on_progress``/``updates()`` subscribe, and the one lock that guards every change.

``JobState`` does no I/O; ``SoraJob`` (in ``_job``) adds the lifecycle on top of it and
feeds it through ``_update``, which notifies observers in order from any thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from openai.types import Video

from ._config import Backend
from ._types import TERMINAL, JobError, JobSnapshot, PollState, Status

__all__ = ["JobState", "Observer", "remaining_seconds"]

log = logging.getLogger("sora_nb")
Observer = Callable[[JobSnapshot], None]


class JobState:
    """What a job is now, read-only from outside; ``SoraJob`` is the public class."""

    id: str
    original_prompt: str
    from_cache: bool

    def _init_state(self, video: Video, backend: Backend, original_prompt: str | None, *,
                    from_cache: bool) -> None:
        self.id = video.id
        self._backend = backend
        self.original_prompt = original_prompt if original_prompt is not None else (
            video.prompt or ""
        )
        self.from_cache = from_cache
        self._lock = threading.Lock()
        self._notify = threading.RLock()
        self._observers: list[Observer] = []
        self._video = video
        self._created = float(video.created_at) if from_cache else time.time()
        self._finished: float | None = (
            float(video.completed_at or time.time()) if video.status in TERMINAL else None
        )
        self._poll_state: PollState = "active"
        self._note: str | None = None
        self._rate: tuple[float, int] | None = None
        self._settled = threading.Event()

    @property
    def video(self) -> Video:
        """The backend's latest ``Video`` object for this job."""
        return self._video

    @property
    def status(self) -> Status:
        """``queued``, ``in_progress``, ``completed`` or ``failed`` (the last one polled)."""
        return self._video.status

    @property
    def progress(self) -> int:
        """Percent done, 0 to 100 (100 once completed)."""
        return 100 if self._video.status == "completed" else int(self._video.progress or 0)

    @property
    def error(self) -> JobError | None:
        """The server's code and message for a failed job; ``None`` otherwise."""
        err = self._video.error
        if err is None and self._video.status != "failed":
            return None
        return JobError(err.code if err else "unknown_error", err.message if err else "")

    @property
    def prompt(self) -> str:
        """The prompt sent to the backend (after prompt enhancement)."""
        return self._video.prompt or self.original_prompt

    @property
    def model(self) -> str:
        """The model the backend renders with, e.g. ``sora-2``."""
        return str(self._video.model)

    @property
    def size(self) -> str:
        """The resolution, ``"WIDTHxHEIGHT"``."""
        return str(self._video.size)

    @property
    def seconds(self) -> int:
        """The video's length in seconds."""
        return int(self._video.seconds)

    @property
    def backend(self) -> Backend:
        """Where this job lives (``job.backend.label`` is its short name, e.g. ``local``)."""
        return self._backend

    @property
    def created_at(self) -> float:
        """When the backend created the job (Unix time)."""
        return float(self._video.created_at)

    @property
    def elapsed(self) -> float:
        """Seconds since creation (frozen once the job finished)."""
        end = self._finished if self._finished is not None else time.time()
        return max(0.0, end - self._created)

    @property
    def done(self) -> bool:
        """True once the job completed or failed."""
        return self._video.status in TERMINAL

    @property
    def url(self) -> str:
        """The backend's content URL of the video (needs the API key as Bearer token)."""
        return self._backend.content_url(self.id)

    def snapshot(self) -> JobSnapshot:
        """A read-only picture of the job now."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> JobSnapshot:
        v = self._video
        return JobSnapshot(
            id=self.id, status=v.status, progress=self.progress, prompt=self.prompt,
            original_prompt=self.original_prompt, model=self.model, size=self.size,
            seconds=self.seconds, backend=self._backend.label, from_cache=self.from_cache,
            created_at=self.created_at, elapsed=self.elapsed, error=self.error,
            poll_state=self._poll_state, note=self._note,
            eta=remaining_seconds(self._rate, time.time(), self.progress, v.status),
            remixed_from=v.remixed_from_video_id,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.status} {self.progress}%>"

    # -- observers --------------------------------------------------------------------

    def on_progress(self, fn: Observer) -> Callable[[], None]:
        """Call ``fn(snapshot)`` now and on every change (from the background thread).
        Returns a function that unsubscribes. An exception in ``fn`` is logged, never
        stops the poller."""
        with self._notify:
            with self._lock:
                self._observers.append(fn)
                snap = self._snapshot_locked()
            _call(fn, snap)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._observers:
                    self._observers.remove(fn)

        return unsubscribe

    async def updates(self) -> AsyncIterator[JobSnapshot]:
        """Yield a snapshot now and on every change until the job settles (finished,
        cancelled, timed out or errored). Works on any event loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[JobSnapshot] = asyncio.Queue()

        def forward(snap: JobSnapshot) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, snap)

        unsubscribe = self.on_progress(forward)
        try:
            while True:
                snap = await queue.get()
                yield snap
                if snap.terminal or snap.poll_state != "active":
                    return
        finally:
            unsubscribe()

    def _update(self, video: Video | None = None, **changes: Any) -> None:
        # _notify orders whole updates: the settled flag and every observer see the
        # changes in the order they were made, from whichever thread made them.
        with self._notify:
            self._apply(video, changes)

    def _apply(self, video: Video | None, changes: dict[str, Any]) -> None:
        with self._lock:
            if video is not None:
                if self._rate is None and video.status == "in_progress":
                    self._rate = (time.time(), int(video.progress or 0))
                self._video = video
                if video.status in TERMINAL and self._finished is None:
                    self._finished = time.time()
            for name, value in changes.items():
                setattr(self, f"_{name}", value)
            settled = self._video.status in TERMINAL or self._poll_state != "active"
            snap = self._snapshot_locked()
            observers = list(self._observers)
        if not settled:
            self._settled.clear()
        for fn in observers:
            _call(fn, snap)
        if settled:  # after the observers: when wait() returns, they have seen the end
            self._settled.set()


def remaining_seconds(first: tuple[float, int] | None, now: float, progress: int,
                      status: str) -> float | None:
    """The ETA of a job: its progress rate since ``first`` (the time and percent when it
    was first seen in progress) extrapolated to 100. ``None`` unless it is in progress and
    has moved since."""
    if first is None or status != "in_progress":
        return None
    t0, p0 = first
    if progress <= p0:
        return None
    per_percent = (now - t0) / (progress - p0)
    return max(0.0, per_percent * (100 - progress))


def _call(fn: Observer, snap: JobSnapshot) -> None:
    try:
        fn(snap)
    except Exception:
        log.exception("a sora_nb progress callback raised; polling goes on")
