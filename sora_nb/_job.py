"""SoraJob: one Sora video job's lifecycle (create, attach, poll, cancel/resume, delete).

Its observable state (properties, snapshot, observers) is ``JobState`` in ``_jobstate``;
the Videos API calls live in ``_videos`` and the polling loop in ``_poller``. The public
methods beyond the lifecycle are thin: waiting is ``_jobwait``, downloads and the audio
merge ``_jobmedia``, remix/extend/edit ``_derive``. Every view reaches the job through the
``_views`` hooks and ``on_progress`` (the job imports no view)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import warnings
import weakref
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import openai
from openai.types import Video

from . import _bulk, _derive, _jobmedia, _jobwait, _store, _videos
from ._config import Backend, BackendName, resolve_backend, settings
from ._errors import (
    SoraConnectionError,
    SoraError,
    SoraParameterError,
    from_sdk,
)
from ._ids import ID_ALLOWED, check_user_id, id_problem
from ._jobstate import JobState, is_final
from ._params import VideoParams, build_params
from ._poller import PollPolicy, TransientFailure, poll_until_done, retry_reason
from ._runtime import POOL_LIMITS, runtime
from ._types import JobOptions, Variant, normalize_status
from ._views import views
from ._wire import error_of, field, progress_of, time_of

if TYPE_CHECKING:
    from ._audio import MergedVideo
    from ._types import AudioInput

__all__ = ["SoraJob", "prepare"]

log = logging.getLogger("sora_nb")
_live: weakref.WeakValueDictionary[str, SoraJob] = weakref.WeakValueDictionary()


class SoraJob(JobState):
    """A Sora video job. ``SoraJob(prompt)`` creates it on the backend and returns at once
    with ``job.id`` set; a background task keeps ``status`` and ``progress`` current.
    Keyword arguments: see ``JobOptions``.

    >>> job = SoraJob("A calico cat playing piano", seconds=8)   # doctest: +SKIP
    >>> job.wait().download()                                    # doctest: +SKIP
    """

    id: str

    def __init__(self, prompt: str, **options: Unpack[JobOptions]) -> None:
        params, backend, cache = prepare(prompt, options)
        runtime.run(self._start(params, backend, cache))

    # -- construction -----------------------------------------------------------------

    @classmethod
    async def async_create(cls, prompt: str, **options: Unpack[JobOptions]) -> SoraJob:
        """The async twin of ``SoraJob(...)``, for use inside a running event loop."""
        params, backend, cache = prepare(prompt, options)
        job = cls.__new__(cls)
        await runtime.wrap(job._start(params, backend, cache))
        return job

    async def _start(self, params: VideoParams, backend: Backend, cache: bool) -> None:
        key = params.cache_key(backend.identity)
        policy = settings.poll
        if cache and (found := await _videos.find_reusable(backend, key, policy)) is not None:
            entry, video = found
            self._setup(video, backend, entry.original_prompt, from_cache=True)
            return
        video, headers = await _videos.create_video(backend, params, key, policy)
        # the create's answer is the first poll: its hint counts, no GET repeats it
        self._setup(video, backend, params.original_prompt, from_cache=False,
                    first=None if headers is None else (video, headers))

    def _setup(
        self, video: Video, backend: Backend, original_prompt: str | None, *, from_cache: bool,
        first: tuple[Video, object] | None = None,
    ) -> None:
        self._init_state(video, backend, original_prompt, from_cache=from_cache)
        self._failure: SoraError | None = None
        self._downloads: dict[Variant, asyncio.Future[Path]] = {}
        self._task: concurrent.futures.Future[None] | asyncio.Task[None] | None = None
        _live[self.id] = self
        self._begin_polling(first)

    @classmethod
    def attach(cls, video_id: str, *, backend: BackendName | Backend | None = None) -> SoraJob:
        """Follow an existing job by id (one from ``history()``, another process, or the
        server's list). Returns the live object if this process already has one."""
        check_user_id(video_id)
        if (job := _live.get(video_id)) is not None:
            return job.resume()
        return runtime.run(cls._attach(video_id, resolve_backend(backend)))

    @classmethod
    async def async_attach(
        cls, video_id: str, *, backend: BackendName | Backend | None = None
    ) -> SoraJob:
        """The async twin of ``attach``."""
        check_user_id(video_id)
        if (job := _live.get(video_id)) is not None:
            return job.resume()
        return await runtime.wrap(cls._attach(video_id, resolve_backend(backend)))

    @classmethod
    def attach_many(cls, video_ids: Iterable[str], *,
                    backend: BackendName | Backend | None = None) -> list[SoraJob]:
        """``attach`` for many ids at once, in their order: the GETs run concurrently (as
        many at once as the connection pool holds), the journal records them in shared
        commits, and each GET is its job's first poll. Raises the first failure; the jobs
        attached meanwhile are followed, and ``attach`` returns them at once."""
        ids = _check_ids(video_ids)
        return runtime.run(cls._attach_many(ids, resolve_backend(backend)))

    @classmethod
    async def async_attach_many(cls, video_ids: Iterable[str], *,
                                backend: BackendName | Backend | None = None) -> list[SoraJob]:
        """The async twin of ``attach_many``."""
        ids = _check_ids(video_ids)
        return await runtime.wrap(cls._attach_many(ids, resolve_backend(backend)))

    @classmethod
    async def _attach_many(cls, video_ids: list[str], backend: Backend) -> list[SoraJob]:
        gate = asyncio.Semaphore(POOL_LIMITS.max_connections or 32)

        async def one(video_id: str) -> SoraJob:
            if (job := _live.get(video_id)) is not None:
                return job.resume()
            async with gate:
                return await cls._attach(video_id, backend)

        return list(await asyncio.gather(*(one(v) for v in video_ids)))

    @classmethod
    async def _attach(cls, video_id: str, backend: Backend) -> SoraJob:
        # with its headers: this GET is the job's first poll (not asked again right after)
        video, headers = await _videos.retrieve_polled(backend, video_id, settings.poll)
        known = _store.journal().by_id(video.id)  # indexed: as fast at 100,000 jobs
        original = known.original_prompt if known is not None else None
        if known is None:
            await _videos.async_journal_created(video, backend, "attached")
        if (job := _live.get(video.id)) is not None:  # attached meanwhile (attach_many)
            return job.resume()
        job = cls.__new__(cls)
        job._setup(video, backend, original, from_cache=False, first=(video, headers))
        job._created = time_of(field(video, "created_at")) or job._created
        # the journal's source id is sora_nb's own; a gateway may rewrite the server's
        job._source_id = known.remixed_from if known is not None else None
        return job

    # -- polling ----------------------------------------------------------------------

    def _begin_polling(self, first: tuple[Video, object] | None = None) -> None:
        if self.done:
            self._update(poll_state="done")
            return
        self._update(poll_state="active", note=self._note)
        self._task = runtime.submit(self._poll(settings.poll, first))

    async def _poll(self, policy: PollPolicy, first: tuple[Video, object] | None = None
                    ) -> None:
        """Run ``poll_until_done`` and turn how it ended into the job's poll state."""
        try:
            # every job of a backend is polled through its one scheduler (_bulk): a list
            # answers many at once, a GET the rest; the loop and its rules stay per job
            ended = await _bulk.follow(
                self._backend, self.id, self.created_at, self._eta,
                lambda follower: poll_until_done(
                    follower.fetch, is_final, policy,
                    on_result=self._polled, on_retry=self._retrying, eta=self._eta,
                    eta_latest=self._eta_latest, wait=lambda delay: follower.wait(delay, policy),
                ),
                first,
            )
        except asyncio.CancelledError:
            raise
        except TransientFailure as exc:
            note = (f"Sora job {self.id}: backend unreachable after {exc.attempts} "
                    f"attempts ({from_sdk(exc.last).message}); job.resume() tries again")
            self._failure = SoraConnectionError(note)
            self._update(poll_state="error", note=note)
        except openai.APIError as exc:
            self._failure = from_sdk(exc)
            self._update(poll_state="error", note=self._failure.message)
        except Exception as exc:  # never die silently: the job shows why it stopped
            self._failure = from_sdk(exc)
            log.exception("sora_nb: polling of %s stopped", self.id)
            self._update(poll_state="error", note=self._failure.message)
        else:
            if ended == "timed_out":
                self._update(poll_state="timed_out", note=(
                    f"stopped polling after {policy.max_wait:.0f} s; job.resume() continues"
                ))

    def _polled(self, video: Video) -> None:
        if is_final(video):
            code, message = error_of(video)
            _store.journal_status(self.id, normalize_status(field(video, "status")),
                                  progress_of(field(video, "progress")) or 0, code, message)
            self._update(video, poll_state="done", note=None)
        else:
            self._update(video, note=None)

    def _retrying(self, exc: Exception, delay: float) -> None:
        self._update(note=f"{retry_reason(exc)}; retrying in {delay:.1f} s")

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

    # -- waiting (implemented in _jobwait) --------------------------------------------

    def wait(self, timeout: float | None = None, *, progress: bool | None = None) -> SoraJob:
        """Block until the job finishes; return it. Raises ``SoraJobFailed`` if it failed,
        ``SoraTimeout`` after ``timeout`` seconds (the job goes on). In a terminal, shows a
        text progress bar (``progress=False`` turns it off, ``True`` forces it)."""
        return _jobwait.wait(self, timeout, progress)

    async def async_wait(self, timeout: float | None = None) -> SoraJob:
        """The async twin of ``wait``: ``await job.async_wait()`` or simply ``await job``."""
        return await _jobwait.async_wait(self, timeout)

    def __await__(self) -> Generator[Any, None, SoraJob]:
        return self.async_wait().__await__()

    # -- media: downloads, bytes, audio (implemented in _jobmedia) --------------------

    def download(self, variant: Variant = "video", path: str | Path | None = None) -> Path:
        """Wait for the job, then download ``variant`` (video, thumbnail or spritesheet),
        streamed and cached; with ``path``, also place a copy there. Returns the file."""
        return _jobmedia.download(self, variant, path)

    async def async_download(self, variant: Variant = "video",
                             path: str | Path | None = None) -> Path:
        """The async twin of ``download``."""
        return await _jobmedia.async_download(self, variant, path)

    def read_bytes(self, variant: Variant = "video") -> bytes:
        """The content of ``variant`` (cached download) as bytes: for small assets."""
        return _jobmedia.read_bytes(self, variant)

    async def async_read_bytes(self, variant: Variant = "video") -> bytes:
        """The async twin of ``read_bytes``."""
        return await _jobmedia.async_read_bytes(self, variant)

    def with_audio(self, audio: AudioInput, **options: Any) -> MergedVideo:
        """Download the video and merge ``audio`` into it (see ``sora_nb.merge_audio``)."""
        return _jobmedia.with_audio(self, audio, options)

    async def async_with_audio(self, audio: AudioInput, **options: Any) -> MergedVideo:
        """The async twin of ``with_audio`` (the merge runs in a worker thread)."""
        return await _jobmedia.async_with_audio(self, audio, options)

    # -- derived jobs (implemented in _derive) ----------------------------------------

    def remix(self, prompt: str, *, enhance: bool = True) -> SoraJob:
        """A new job that remixes this (finished) one with ``prompt``."""
        return _derive.derive(self, "remix", prompt, enhance)

    async def async_remix(self, prompt: str, *, enhance: bool = True) -> SoraJob:
        """The async twin of ``remix``."""
        return await _derive.async_derive(self, "remix", prompt, enhance)

    def extend(self, prompt: str, seconds: float | int | str = 4, *, enhance: bool = True
               ) -> SoraJob:
        """A new job that continues this one by ``seconds`` (4, 8 or 12 on the ``sora``
        profile; whole seconds as given on ``generic``)."""
        return _derive.derive(self, "extend", prompt, enhance, seconds)

    async def async_extend(self, prompt: str, seconds: float | int | str = 4, *,
                           enhance: bool = True) -> SoraJob:
        """The async twin of ``extend``."""
        return await _derive.async_derive(self, "extend", prompt, enhance, seconds)

    def edit(self, prompt: str, *, enhance: bool = True) -> SoraJob:
        """A new job that edits this (finished) one as ``prompt`` says."""
        return _derive.derive(self, "edit", prompt, enhance)

    async def async_edit(self, prompt: str, *, enhance: bool = True) -> SoraJob:
        """The async twin of ``edit``."""
        return await _derive.async_derive(self, "edit", prompt, enhance)

    def _derived(self, video: Video, original_prompt: str) -> SoraJob:
        """The job of ``video``, which the backend derived from this one (``_derive``)."""
        job = SoraJob.__new__(SoraJob)
        job._setup(video, self._backend, original_prompt, from_cache=False)
        # sora_nb's own record of the source: a gateway rewrites remixed_from_video_id
        job._update(source_id=self.id)
        return job

    # -- deletion ---------------------------------------------------------------------

    def delete(self) -> None:
        """Delete the job and its assets on the backend, and its cached downloads here.
        Raises ``SoraUnsupported`` (and keeps everything) on a server without delete."""
        runtime.run(self._delete())

    async def async_delete(self) -> None:
        """The async twin of ``delete``."""
        await runtime.wrap(self._delete())

    async def _delete(self) -> None:
        await _videos.delete_video(self._backend, self.id, settings.poll)
        if self._task is not None:  # only once the server deleted it
            self._task.cancel()
        self._downloads.clear()
        _live.pop(self.id, None)
        self._update(poll_state="done" if self.done else "cancelled", note="deleted")

    # -- display ----------------------------------------------------------------------

    def show(self, variant: Variant = "video", *, embed: bool = False,
             width: int | None = None) -> None:
        """Display ``variant`` inline (waiting with the live card first if unfinished)."""
        if views.show is None:
            raise SoraError("no notebook view is registered (import sora_nb first)")
        views.show(self, variant, embed, width)

    def _ipython_display_(self) -> None:
        # A display with an id (not a plain mimebundle), so that the card can replace
        # itself by static HTML once the job is final.
        if views.display is None:
            from IPython.display import display  # deferred: only ever called by IPython

            display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]
            return
        views.display(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if views.mimebundle is None:
            return {"text/plain": repr(self)}
        return views.mimebundle(self, include, exclude)

    def _repr_html_(self) -> str | None:
        return views.html(self) if views.html is not None else None


def prepare(prompt: str, options: JobOptions) -> tuple[VideoParams, Backend, bool]:
    """Resolve the backend and its profile, and validate everything by that profile's
    rules, before any request is sent."""
    unknown = sorted(set(options) - JobOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"SoraJob() got an unexpected keyword argument {unknown[0]!r}")
    backend = resolve_backend(options.get("backend"), profile=options.get("profile"))
    params = build_params(
        prompt, model=options.get("model"), seconds=options.get("seconds"),
        size=options.get("size"), input_reference=options.get("input_reference"),
        fit=options.get("fit"), enhance=options.get("enhance", True),
        profile=backend.profile, extra=options.get("extra"),
    )
    cache = options.get("cache", True)
    if not isinstance(cache, bool):
        raise SoraParameterError("cache", cache, "True (reuse an identical earlier job) or False")
    return params, backend, cache


def _check_ids(video_ids: object) -> list[str]:
    """``attach_many(video_ids)``: an iterable (not a string) of ids, each checked."""
    if isinstance(video_ids, (str, bytes)) or not isinstance(video_ids, Iterable):
        raise SoraParameterError("video_ids", video_ids, "a list of video ids")
    ids = list(video_ids)
    for index, video_id in enumerate(ids):
        if (problem := id_problem(video_id)) is not None:
            raise SoraParameterError("video_ids", video_id, ID_ALLOWED,
                                     detail=f"item {index}: {problem}")
    return ids
