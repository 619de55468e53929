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
from ._errors import SoraParameterError
from ._types import TERMINAL, JobError, JobSnapshot, PollState, Status, Variant, normalize_status
from ._wire import field, progress_of, seconds_of, text_of, time_of

__all__ = ["JobState", "Observer", "is_final", "remaining_seconds"]

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
            text_of(field(video, "prompt"))
        )
        self.from_cache = from_cache
        self._lock = threading.Lock()
        self._notify = threading.RLock()
        self._observers: list[Observer] = []
        self._video = video
        created = time_of(field(video, "created_at"))
        self._created = created if from_cache and created is not None else time.time()
        self._finished: float | None = (
            (time_of(field(video, "completed_at")) or time.time()) if is_final(video) else None
        )
        #: the highest progress the server reported (on screen it never goes back)
        self._progress_max: int | None = progress_of(field(video, "progress"))
        #: sora_nb's own record of the source of a derived job (a gateway rewrites the
        #: server's remixed_from_video_id)
        self._source_id: str | None = None
        self._made_locally: tuple[Variant, ...] = ()
        self._poll_state: PollState = "active"
        self._note: str | None = None
        self._rate: tuple[float, int] | None = None
        self._settled = threading.Event()

    @property
    def video(self) -> Video:
        """The backend's latest ``Video`` object for this job."""
        return self._video

    @property
    def status(self) -> Status | str:
        """``queued``, ``in_progress``, ``completed``, ``failed``, ``cancelled`` or
        ``expired`` (what servers call ``pending``, ``processing``, ``succeeded``... is
        mapped), or the server's own word if sora_nb does not know it (never final)."""
        return normalize_status(field(self._video, "status"))

    @property
    def progress(self) -> int | None:
        """Percent done: the highest the server reported (it never goes back), 100 once
        completed; ``None`` while the server reports no progress at all."""
        return 100 if self.status == "completed" else self._progress_max

    @property
    def error(self) -> JobError | None:
        """The server's code and message for a job that ended without a video; ``None``
        otherwise."""
        err = field(self._video, "error")
        status = self.status
        if err is None and status not in _NO_VIDEO:
            return None
        code, message = field(err, "code"), field(err, "message")
        default = "unknown_error" if status == "failed" else str(status)
        return JobError(text_of(code) or default, text_of(message))

    @property
    def prompt(self) -> str:
        """The prompt sent to the backend (after prompt enhancement)."""
        return text_of(field(self._video, "prompt")) or self.original_prompt

    @property
    def model(self) -> str:
        """The model the backend renders with, e.g. ``sora-2``."""
        return text_of(field(self._video, "model"))

    @property
    def size(self) -> str:
        """The resolution, ``"WIDTHxHEIGHT"``."""
        return text_of(field(self._video, "size"))

    @property
    def seconds(self) -> int:
        """The video's length in seconds (0 if the server did not say)."""
        return seconds_of(field(self._video, "seconds"))

    @property
    def backend(self) -> Backend:
        """Where this job lives (``job.backend.label`` is its short name, e.g. ``local``)."""
        return self._backend

    @property
    def created_at(self) -> float:
        """When the backend created the job (Unix time)."""
        created = time_of(field(self._video, "created_at"))
        return created if created is not None else self._created

    @property
    def elapsed(self) -> float:
        """Seconds since creation (frozen once the job finished)."""
        end = self._finished if self._finished is not None else time.time()
        return max(0.0, end - self._created)

    @property
    def done(self) -> bool:
        """True once the job is final: completed, failed, cancelled or expired."""
        return self.status in TERMINAL

    @property
    def remixed_from(self) -> str | None:
        """The id of the job this one was derived from, by sora_nb's own record (a gateway
        may rewrite the server's ``remixed_from_video_id``)."""
        return self._source_id or (text_of(field(self._video, "remixed_from_video_id")) or None)

    @property
    def url(self) -> str:
        """The backend's content URL of the video (needs the API key as Bearer token)."""
        return self._backend.content_url(self.id)

    def _eta(self) -> float | None:
        """For the poller: seconds until the job may end at the earliest, by its progress
        rate. Reported progress is a whole percent (the job may be up to one further
        along), so this is the time to 99 %, where the snapshot's ``eta`` says 100 %."""
        with self._lock:
            return remaining_seconds(self._rate, time.time(), self.progress, self.status,
                                     until=99)

    def _eta_latest(self) -> float | None:
        """For the poller: seconds until the job should have ended by its progress rate (to
        100 %); past it, a job still running is held up (``_poller.track_overdue``)."""
        with self._lock:
            return remaining_seconds(self._rate, time.time(), self.progress, self.status)

    def snapshot(self) -> JobSnapshot:
        """A read-only picture of the job now."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> JobSnapshot:
        status, progress = self.status, self.progress
        return JobSnapshot(
            id=self.id, status=status, progress=progress, prompt=self.prompt,
            original_prompt=self.original_prompt, model=self.model, size=self.size,
            seconds=self.seconds, backend=self._backend.label, from_cache=self.from_cache,
            created_at=self.created_at, elapsed=self.elapsed, error=self.error,
            poll_state=self._poll_state, note=self._note,
            eta=remaining_seconds(self._rate, time.time(), progress, status),
            remixed_from=self.remixed_from, made_locally=self._made_locally,
        )

    def __repr__(self) -> str:
        try:
            shown = "" if self.progress is None else f" {self.progress}%"
            return f"<{type(self).__name__} {self.id} {self.status}{shown}>"
        except Exception:  # half-built (its create failed or is under way): still a repr
            return f"<{type(self).__name__} (not created)>"

    # -- observers --------------------------------------------------------------------

    def on_progress(self, fn: Observer) -> Callable[[], None]:
        """Call ``fn(snapshot)`` now and on every change (from the background thread).
        Returns a function that unsubscribes. An exception in ``fn`` is logged, never
        stops the poller."""
        if not callable(fn):
            raise SoraParameterError("fn", fn, "a callable taking one JobSnapshot")
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
                reported = progress_of(field(video, "progress"))
                if reported is not None:  # on screen, progress never goes backwards
                    self._progress_max = max(reported, self._progress_max or 0)
                if (self._rate is None and reported is not None
                        and normalize_status(field(video, "status")) == "in_progress"):
                    self._rate = (time.time(), self._progress_max or 0)
                self._video = video
                if is_final(video) and self._finished is None:
                    self._finished = time.time()
            for name, value in changes.items():
                setattr(self, f"_{name}", value)
            settled = self.done or self._poll_state != "active"
            snap = self._snapshot_locked()
            observers = list(self._observers)
        if not settled:
            self._settled.clear()
        for fn in observers:
            _call(fn, snap)
        if settled:  # after the observers: when wait() returns, they have seen the end
            self._settled.set()


#: Final statuses without a video.
_NO_VIDEO = frozenset({"failed", "cancelled", "expired"})


def is_final(video: object) -> bool:
    """Whether a server's ``Video`` is in a final status (after ``normalize_status``)."""
    return normalize_status(field(video, "status")) in TERMINAL


def remaining_seconds(first: tuple[float, int] | None, now: float, progress: int | None,
                      status: str, until: int = 100) -> float | None:
    """The ETA of a job: its progress rate since ``first`` (the time and percent when it
    was first seen in progress) extrapolated to ``until`` percent. ``None`` unless it is in
    progress and has moved since (never without reported progress)."""
    if first is None or progress is None or status != "in_progress":
        return None
    t0, p0 = first
    if progress <= p0:
        return None
    per_percent = (now - t0) / (progress - p0)
    return max(0.0, per_percent * (until - progress))


def _call(fn: Observer, snap: JobSnapshot) -> None:
    try:
        fn(snap)
    except Exception:
        log.exception("a sora_nb progress callback raised; polling goes on")
