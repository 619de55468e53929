"""SoraJob: one Sora video job's state and lifecycle (create, poll, wait, download, derive).
No display code: views subscribe through ``on_progress`` and receive ``JobSnapshot``s."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import shutil
import sys
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import openai
from openai.types import Video
from openai.types.video_edit_params import VideoVideoReferenceInputParam

from . import _store
from ._config import Backend, BackendName, in_kernel, resolve_backend, settings
from ._errors import SoraConnectionError, SoraError, SoraJobFailed, SoraTimeout, from_sdk
from ._fs import atomic_path
from ._media import stream_download
from ._params import VideoParams, build_params, normalize_prompt, normalize_seconds
from ._poller import (
    TRANSIENT,
    PollPolicy,
    TransientFailure,
    backoff_delay,
    fault_delay,
    is_transient,
    poll_after,
    with_retries,
)
from ._prompt import enhance_prompt
from ._runtime import runtime
from ._types import TERMINAL, JobError, JobSnapshot, PollState, Status, Variant

if TYPE_CHECKING:
    from ._audio import AudioInput, MergedVideo

__all__ = ["SoraJob"]

log = logging.getLogger("sora_nb")
Observer = Callable[[JobSnapshot], None]
T = TypeVar("T")
_live: weakref.WeakValueDictionary[str, SoraJob] = weakref.WeakValueDictionary()


class SoraJob:
    """A Sora video job. ``SoraJob(prompt)`` creates it on the backend and returns at once
    with ``job.id`` set; a background task keeps ``status`` and ``progress`` current.

    >>> job = SoraJob("A calico cat playing piano", seconds=8)   # doctest: +SKIP
    >>> job.wait().download()                                    # doctest: +SKIP
    """

    id: str

    def __init__(
        self,
        prompt: str,
        *,
        model: str = "sora-2",
        seconds: float | int | str = 8,
        size: str | tuple[int, int] | None = None,
        input_reference: Any = None,
        fit: str | None = None,
        enhance: bool = True,
        cache: bool = True,
        backend: BackendName | Backend | None = None,
    ) -> None:
        params, resolved = _prepare(prompt, model, seconds, size, input_reference, fit,
                                    enhance, backend)
        runtime.run(self._start(params, resolved, cache))

    # -- construction -----------------------------------------------------------------

    @classmethod
    async def acreate(
        cls,
        prompt: str,
        *,
        model: str = "sora-2",
        seconds: float | int | str = 8,
        size: str | tuple[int, int] | None = None,
        input_reference: Any = None,
        fit: str | None = None,
        enhance: bool = True,
        cache: bool = True,
        backend: BackendName | Backend | None = None,
    ) -> SoraJob:
        """The async twin of ``SoraJob(...)``, for use inside a running event loop."""
        params, resolved = _prepare(prompt, model, seconds, size, input_reference, fit,
                                    enhance, backend)
        job = cls.__new__(cls)
        await runtime.wrap(job._start(params, resolved, cache))
        return job

    async def _start(self, params: VideoParams, backend: Backend, cache: bool) -> None:
        key = params.cache_key(backend.identity)
        client = runtime.client(backend)
        policy = settings.poll
        if cache and (entry := _store.find_cached(key)) is not None:
            try:
                video = await with_retries(lambda: client.videos.retrieve(entry.id), policy)
            except (openai.NotFoundError, TransientFailure):
                pass  # gone from the backend (or unreachable): make a new one below
            except openai.APIError as exc:
                raise from_sdk(exc) from None
            else:
                expired = video.expires_at is not None and video.expires_at <= time.time()
                if video.status != "failed" and not expired:
                    self._setup(video, backend, entry.original_prompt, from_cache=True)
                    return

        idempotency = {"Idempotency-Key": f"sora-nb-{uuid.uuid4().hex}"}
        kwargs = params.create_kwargs()

        async def create_and_journal() -> Video:
            video = await _sdk(
                lambda: client.videos.create(**kwargs, extra_headers=idempotency), policy
            )
            # Journal before anything else: a paid-for generation is never lost.
            _journal_created(video, backend, params.original_prompt, "create", key)
            return video

        # Shielded: an interrupt (Ctrl-C in a cell) cannot stop a create half-way, after
        # the server accepted it but before the journal has it.
        video = await asyncio.shield(create_and_journal())
        self._setup(video, backend, params.original_prompt, from_cache=False)

    def _setup(
        self, video: Video, backend: Backend, original_prompt: str | None, *, from_cache: bool
    ) -> None:
        self.id = video.id
        self.backend_config = backend
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
        self._failure: SoraError | None = None
        self._settled = threading.Event()
        self._downloads: dict[Variant, asyncio.Future[Path]] = {}
        self._task: concurrent.futures.Future[None] | asyncio.Task[None] | None = None
        _live[self.id] = self
        self._begin_polling()

    @classmethod
    def attach(cls, video_id: str, *, backend: BackendName | Backend | None = None) -> SoraJob:
        """Follow an existing job by id (one from ``history()``, another process, or the
        server's list). Returns the live object if this process already has one."""
        if (job := _live.get(video_id)) is not None:
            return job.resume()
        resolved = resolve_backend(backend)
        return runtime.run(cls._attach(video_id, resolved))

    @classmethod
    async def aattach(
        cls, video_id: str, *, backend: BackendName | Backend | None = None
    ) -> SoraJob:
        """The async twin of ``attach``."""
        if (job := _live.get(video_id)) is not None:
            return job.resume()
        return await runtime.wrap(cls._attach(video_id, resolve_backend(backend)))

    @classmethod
    async def _attach(cls, video_id: str, backend: Backend) -> SoraJob:
        client = runtime.client(backend)
        video = await _sdk(lambda: client.videos.retrieve(video_id), settings.poll)
        known = {e.id: e for e in _store.history(include_deleted=True)}
        original = known[video_id].original_prompt if video_id in known else None
        if video_id not in known:
            _journal_created(video, backend, video.prompt or "", "attached", None)
        job = cls.__new__(cls)
        job._setup(video, backend, original, from_cache=False)
        job._created = float(video.created_at)
        return job

    # -- state ------------------------------------------------------------------------

    @property
    def video(self) -> Video:
        """The backend's latest ``Video`` object for this job."""
        return self._video

    @property
    def status(self) -> Status:
        return self._video.status

    @property
    def progress(self) -> int:
        return 100 if self._video.status == "completed" else int(self._video.progress or 0)

    @property
    def error(self) -> JobError | None:
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
        return str(self._video.model)

    @property
    def size(self) -> str:
        return str(self._video.size)

    @property
    def seconds(self) -> int:
        return int(self._video.seconds)

    @property
    def backend(self) -> str:
        return self.backend_config.label

    @property
    def created_at(self) -> float:
        return float(self._video.created_at)

    @property
    def elapsed(self) -> float:
        """Seconds since creation (frozen once the job finished)."""
        end = self._finished if self._finished is not None else time.time()
        return max(0.0, end - self._created)

    @property
    def done(self) -> bool:
        return self._video.status in TERMINAL

    @property
    def url(self) -> str:
        """The backend's content URL of the video (needs the API key as Bearer token)."""
        return self.backend_config.content_url(self.id)

    def snapshot(self) -> JobSnapshot:
        """A read-only picture of the job now."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> JobSnapshot:
        v = self._video
        elapsed = self.elapsed
        return JobSnapshot(
            id=self.id, status=v.status, progress=self.progress, prompt=self.prompt,
            original_prompt=self.original_prompt, model=self.model, size=self.size,
            seconds=self.seconds, backend=self.backend, from_cache=self.from_cache,
            created_at=self.created_at, elapsed=elapsed, error=self.error,
            poll_state=self._poll_state, note=self._note, eta=self._eta(),
            remixed_from=v.remixed_from_video_id,
        )

    def _eta(self) -> float | None:
        if self._rate is None or self._video.status != "in_progress":
            return None
        t0, p0 = self._rate
        p = self.progress
        if p <= p0:
            return None
        per_percent = (time.time() - t0) / (p - p0)
        return max(0.0, per_percent * (100 - p))

    def __repr__(self) -> str:
        return f"<SoraJob {self.id} {self.status} {self.progress}%>"

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

    # -- polling ----------------------------------------------------------------------

    def _begin_polling(self) -> None:
        if self.done:
            self._update(poll_state="done")
            return
        self._update(poll_state="active", note=self._note)
        self._task = runtime.submit(self._poll(settings.poll))

    async def _poll(self, policy: PollPolicy) -> None:
        try:
            await self._poll_loop(policy)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never die silently: the job shows why it stopped
            self._failure = from_sdk(exc)
            log.exception("sora_nb: polling of %s stopped", self.id)
            self._update(poll_state="error", note=self._failure.message)

    async def _poll_loop(self, policy: PollPolicy) -> None:
        client = runtime.client(self.backend_config)
        rng = random.Random(policy.seed)
        start = policy.clock()
        attempt = failures = 0
        while True:
            if policy.clock() - start > policy.deadline:
                self._update(poll_state="timed_out", note=(
                    f"stopped polling after {policy.deadline:.0f} s; job.resume() continues"
                ))
                return
            try:
                raw = await client.videos.with_raw_response.retrieve(self.id)
                video = raw.parse()
            except TRANSIENT as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                if failures > policy.max_failures:
                    error = from_sdk(exc)
                    note = (f"Sora job {self.id}: backend unreachable after {failures} "
                            f"attempts ({error.message}); job.resume() tries again")
                    self._failure = SoraConnectionError(note)
                    self._update(poll_state="error", note=note)
                    return
                delay = fault_delay(policy, exc, failures - 1, rng)
                reason = "rate limited" if isinstance(exc, openai.RateLimitError) else (
                    "backend error" if isinstance(exc, openai.APIStatusError) else
                    "connection problem")
                self._update(note=f"{reason}; retrying in {delay:.1f} s")
                await policy.sleep(delay)
                continue
            except openai.APIError as exc:
                self._failure = from_sdk(exc)
                self._update(poll_state="error", note=self._failure.message)
                return
            failures = 0
            if video.status in TERMINAL:
                _store.journal_status(self.id, video.status, video.progress,
                                      video.error.code if video.error else None,
                                      video.error.message if video.error else None)
                self._update(video, poll_state="done", note=None)
                return
            self._update(video, note=None)
            hinted = poll_after(raw.headers)
            delay = hinted if hinted is not None else backoff_delay(policy, attempt, rng)
            attempt += 1
            await policy.sleep(delay)

    def cancel(self) -> None:
        """Stop polling this job here. The server may still render it (and bill it):
        ``job.resume()`` or ``SoraJob.attach(id)`` follow it again."""
        if self._task is not None:
            self._task.cancel()
        if not self.done:
            note = (f"polling cancelled; the server may still render {self.id} "
                    f"(job.resume() follows it again)")
            self._update(poll_state="cancelled", note=note)
            warnings.warn(note, UserWarning, stacklevel=2)

    def resume(self) -> SoraJob:
        """Poll again after ``cancel()``, a timeout or a run of backend errors."""
        if not self.done and self._poll_state != "active":
            self._note = None
            self._begin_polling()
        return self

    # -- waiting ----------------------------------------------------------------------

    def wait(self, timeout: float | None = None, *, progress: bool | None = None) -> SoraJob:
        """Block until the job finishes; return it. Raises ``SoraJobFailed`` if it failed,
        ``SoraTimeout`` after ``timeout`` seconds (the job goes on). In a terminal, shows a
        text progress bar (``progress=False`` turns it off)."""
        if runtime.in_runtime_thread():
            raise RuntimeError(
                "job.wait() was called from the sora_nb runtime thread (inside a progress "
                "callback?): it would block every job's polling; use `await job` there"
            )
        # no bar for a job already settled (download() waits too: one bar per job)
        bar = None if self._settled.is_set() else _text_progress(progress)
        unsubscribe = self.on_progress(bar) if bar is not None else None
        started = time.monotonic()
        try:
            if not self._settled.wait(timeout):
                raise SoraTimeout(self, time.monotonic() - started)
        finally:
            if unsubscribe is not None and bar is not None:
                unsubscribe()
                bar.close()
        return self._outcome(time.monotonic() - started)

    async def async_wait(self, timeout: float | None = None) -> SoraJob:
        """The async twin of ``wait``: ``await job.async_wait()`` or simply ``await job``."""
        started = time.monotonic()

        async def settle() -> None:
            async for _ in self.updates():
                pass

        try:
            await asyncio.wait_for(settle(), timeout)
        except asyncio.TimeoutError:
            raise SoraTimeout(self, time.monotonic() - started) from None
        return self._outcome(time.monotonic() - started)

    def __await__(self) -> Generator[Any, None, SoraJob]:
        return self.async_wait().__await__()

    def _outcome(self, waited: float) -> SoraJob:
        if self.status == "completed":
            return self
        if self.status == "failed":
            err = self.error
            raise SoraJobFailed(self, err.code if err else None, err.message if err else None)
        if self._poll_state == "timed_out":
            raise SoraTimeout(self, waited)
        if self._poll_state == "error" and self._failure is not None:
            raise self._failure
        raise SoraError(f"Sora job {self.id}: {self._note or self._poll_state}")

    # -- downloads --------------------------------------------------------------------

    def download(self, variant: Variant = "video", path: str | Path | None = None) -> Path:
        """Wait for the job, then download ``variant`` (video, thumbnail or spritesheet),
        streamed and cached; with ``path``, also place a copy there. Returns the file."""
        self.wait()
        return runtime.run(self._download(variant, path))

    async def adownload(self, variant: Variant = "video", path: str | Path | None = None) -> Path:
        """The async twin of ``download``."""
        await self.async_wait()
        return await runtime.wrap(self._download(variant, path))

    def download_future(self, variant: Variant = "video") -> concurrent.futures.Future[Path]:
        """Start downloading a finished job's ``variant`` without blocking (any thread)."""
        return runtime.submit(self._download(variant, None))

    def bytes(self, variant: Variant = "video") -> bytes:
        """The content of ``variant`` (cached download) as bytes: for small assets."""
        return self.download(variant).read_bytes()

    async def _download(self, variant: Variant, path: str | Path | None) -> Path:
        if variant not in _store.EXTENSIONS:
            from ._errors import SoraParameterError

            raise SoraParameterError("variant", variant, "'video', 'thumbnail' or 'spritesheet'")
        if self.status != "completed":
            await self.async_wait()
        future = self._downloads.get(variant)
        if future is None or (future.done() and future.exception() is not None):
            future = asyncio.ensure_future(self._fetch(variant))
            self._downloads[variant] = future
        cached = await asyncio.shield(future)
        if path is None:
            return cached
        target = Path(path).expanduser()
        if target.is_dir():
            target = target / f"{self.id}.{_store.EXTENSIONS[variant]}"
        with atomic_path(target) as tmp:
            shutil.copyfile(cached, tmp)
        return target

    async def _fetch(self, variant: Variant) -> Path:
        target = _store.media_path(self.id, variant)
        if target.exists():
            return target
        client = runtime.client(self.backend_config)
        return await _sdk(
            lambda: stream_download(client, self.id, variant, target), settings.poll
        )

    # -- derived jobs -----------------------------------------------------------------

    def remix(self, prompt: str, *, enhance: bool = True) -> SoraJob:
        """A new job that remixes this (finished) one with ``prompt``."""
        self.wait()
        return runtime.run(self._derive("remix", prompt, enhance, None))

    def extend(self, prompt: str, seconds: float | int | str = 4, *, enhance: bool = True
               ) -> SoraJob:
        """A new job that continues this one by ``seconds`` (4, 8 or 12)."""
        self.wait()
        return runtime.run(self._derive("extend", prompt, enhance, normalize_seconds(seconds)))

    def edit(self, prompt: str, *, enhance: bool = True) -> SoraJob:
        """A new job that edits this (finished) one as ``prompt`` says."""
        self.wait()
        return runtime.run(self._derive("edit", prompt, enhance, None))

    async def _derive(self, kind: str, prompt: str, enhance: bool, seconds: int | None
                      ) -> SoraJob:
        original = normalize_prompt(prompt)
        sent = enhance_prompt(original) if enhance else original
        client = runtime.client(self.backend_config)
        headers = {"Idempotency-Key": f"sora-nb-{uuid.uuid4().hex}"}
        source: VideoVideoReferenceInputParam = {"id": self.id}
        # The SDK's videos.edit()/extend() reject a {"id": ...} video reference (openai
        # 3.57 treats the field as a file upload only), so those two go as JSON through
        # the same client's generic post(); remix has no file field and works as is.
        body: dict[str, object] = {"prompt": sent, "video": source}
        if seconds is not None:
            body["seconds"] = str(seconds)
        path = {"edit": "/videos/edits", "extend": "/videos/extensions"}.get(kind)

        def call() -> Awaitable[Video]:
            if path is None:
                return client.videos.remix(self.id, prompt=sent, extra_headers=headers)
            return client.post(path, cast_to=Video, body=body, options={"headers": headers})

        video = await _sdk(call, settings.poll)
        _journal_created(video, self.backend_config, original, kind, None,
                         remixed_from=self.id)
        job = SoraJob.__new__(SoraJob)
        job._setup(video, self.backend_config, original, from_cache=False)
        return job

    def delete(self) -> None:
        """Delete the job and its assets on the backend, and its cached downloads here."""
        runtime.run(self._delete())

    async def _delete(self) -> None:
        if self._task is not None:
            self._task.cancel()
        client = runtime.client(self.backend_config)
        await _sdk(lambda: client.videos.delete(self.id), settings.poll)
        _store.journal_event("deleted", id=self.id)
        shutil.rmtree(_store.media_path(self.id, "video").parent, ignore_errors=True)
        self._downloads.clear()
        _live.pop(self.id, None)
        self._update(poll_state="done" if self.done else "cancelled", note="deleted")

    # -- audio and display (views and merge live elsewhere; imported on use) ------------

    def with_audio(self, audio: AudioInput, **options: Any) -> MergedVideo:
        """Download the video and merge ``audio`` into it (see ``sora_nb.merge_audio``)."""
        from ._audio import merge_audio

        return merge_audio(self.download(), audio, **options)

    def show(self, variant: Variant = "video", *, embed: bool = False,
             width: int | None = None) -> None:
        """Display ``variant`` inline (waiting with the live card first if unfinished)."""
        from ._widget import show_job

        show_job(self, variant, embed=embed, width=width)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ._widget import job_mimebundle

        return job_mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        from ._display import job_html

        return job_html(self.snapshot())


def backend_history(
    journal: list[_store.HistoryEntry], limit: int
) -> list[_store.HistoryEntry]:
    """``journal`` merged with the current backend's ``limit`` newest jobs (statuses from
    the backend win), newest first. If the backend cannot be reached, ``journal`` as is."""
    from dataclasses import replace

    try:
        backend = resolve_backend()
        client = runtime.client(backend)

        async def listed() -> list[Video]:
            # one retry at most: a gallery should not stall on a backend that is away
            quick = replace(settings.poll, max_failures=1)
            page = await _sdk(lambda: client.videos.list(limit=min(limit, 100)), quick)
            return list(page.data)

        videos = runtime.run(listed())
    except SoraError as exc:
        log.warning("sora_nb: the backend's list is unavailable (%s)", exc)
        return journal
    by_id = {e.id: e for e in journal}
    for v in videos:
        known = by_id.get(v.id)
        if known is not None:
            by_id[v.id] = replace(known, status=v.status, progress=int(v.progress or 0))
        else:
            by_id[v.id] = _store.HistoryEntry(
                id=v.id, prompt=v.prompt or "", original_prompt=v.prompt or "",
                model=str(v.model), seconds=int(v.seconds), size=str(v.size),
                backend=backend.identity, created_at=float(v.created_at), status=v.status,
                progress=int(v.progress or 0), remixed_from=v.remixed_from_video_id,
                kind="listed",
            )
    return sorted(by_id.values(), key=lambda e: e.created_at, reverse=True)


def _prepare(prompt: str, model: str, seconds: float | int | str,
             size: str | tuple[int, int] | None, input_reference: Any, fit: str | None,
             enhance: bool, backend: BackendName | Backend | None
             ) -> tuple[VideoParams, Backend]:
    """Resolve the backend and validate everything, before any request is sent."""
    resolved = resolve_backend(backend)
    params = build_params(
        prompt, model=model, seconds=seconds, size=size, input_reference=input_reference,
        fit=fit, enhance=enhance,  # type: ignore[arg-type]
        allow_custom_models=resolved.allow_custom_models,
    )
    return params, resolved


async def _sdk(call: Callable[[], Awaitable[T]], policy: PollPolicy) -> T:
    """``with_retries`` whose failures come out as ``SoraError``s (key-free)."""
    try:
        return await with_retries(call, policy)
    except TransientFailure as exc:
        raise from_sdk(exc.last) from None
    except openai.APIError as exc:
        raise from_sdk(exc) from None


def _journal_created(video: Video, backend: Backend, original_prompt: str, kind: str,
                     cache_key: str | None, remixed_from: str | None = None) -> None:
    _store.record_created(_store.HistoryEntry(
        id=video.id, prompt=video.prompt or original_prompt, original_prompt=original_prompt,
        model=str(video.model), seconds=int(video.seconds), size=str(video.size),
        backend=backend.identity, created_at=time.time(), status=video.status,
        progress=int(video.progress or 0), remixed_from=remixed_from or
        video.remixed_from_video_id, kind=kind, cache_key=cache_key,
    ))


def _call(fn: Observer, snap: JobSnapshot) -> None:
    try:
        fn(snap)
    except Exception:
        log.exception("a sora_nb progress callback raised; polling goes on")


def _text_progress(wanted: bool | None) -> Any:
    if wanted is False or (wanted is None and (in_kernel() or not sys.stderr.isatty())):
        return None
    from ._textbar import TextProgress

    return TextProgress(stream=sys.stderr)
