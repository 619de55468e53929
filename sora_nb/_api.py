"""The functional API of the original TypeScript module, in Python (snake_case, same
semantics), each with an ``async_`` twin; plus a progress stream. Re-exported by
``sora_nb``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict

from ._errors import SoraError, SoraParameterError
from ._job import SoraJob
from ._jobwait import outcome
from ._profiles import ProfileName
from ._types import AudioInput, JobSnapshot, Status, Variant

__all__ = [
    "SoraVideoStatus",
    "async_download_sora_video_content",
    "async_generate_and_download_sora_video",
    "async_generate_video_with_sora",
    "async_get_sora_video_status",
    "download_sora_video_content",
    "generate_and_download_sora_video",
    "generate_video_with_sora",
    "get_sora_video_status",
    "watch_sora_video",
]

#: The original TypeScript module's generateAndDownloadSoraVideo waited at most 10 minutes.
GENERATE_TIMEOUT = 600.0


class SoraVideoStatus(TypedDict):
    """What ``get_sora_video_status`` returns. ``url`` is the backend's content URL once the
    job completed (``GET`` it with the API key as Bearer token), else ``None``."""

    id: str
    #: a ``Status`` (``queued``, ``in_progress``, ``completed``, ``failed``, ``cancelled``,
    #: ``expired``), or the server's own word when sora_nb does not know it
    status: Status | str
    #: ``None`` while the server reports no progress
    progress: int | None
    url: str | None


def generate_video_with_sora(script: str, model: str | None = None,
                             duration: float | None = None, *,
                             extra: dict[str, Any] | None = None,
                             profile: ProfileName | None = None) -> str:
    """Start a Sora job for ``script`` and return its id at once (the job is journaled
    and polled in the background). On the ``sora`` profile ``model`` defaults to
    ``DEFAULT_MODEL`` and ``duration`` to 8, rounded to 4, 8 or 12 seconds; a generic
    server gets them as given (its own defaults for ``None``), plus any ``extra`` fields.
    Technical scripts get prompt enhancement and 16:9 framing, as in the original
    TypeScript module."""
    with _original_names():
        return SoraJob(script, model=model, seconds=duration, extra=extra,
                       profile=profile).id


async def async_generate_video_with_sora(
    script: str, model: str | None = None, duration: float | None = None, *,
    extra: dict[str, Any] | None = None, profile: ProfileName | None = None,
) -> str:
    """The async twin of ``generate_video_with_sora``."""
    with _original_names():
        job = await SoraJob.async_create(script, model=model, seconds=duration, extra=extra,
                                         profile=profile)
    return job.id


#: These functions keep the original module's parameter names; SoraJob's errors name its
#: own, so they are renamed on the way out (a user who typed ``duration=`` reads ``duration``).
_ORIGINAL_NAMES = {"prompt": "script", "seconds": "duration"}


@contextlib.contextmanager
def _original_names() -> Iterator[None]:
    try:
        yield
    except SoraParameterError as exc:
        if exc.param not in _ORIGINAL_NAMES:
            raise
        raise exc.renamed(_ORIGINAL_NAMES[exc.param]) from None


def get_sora_video_status(video_id: str) -> SoraVideoStatus:
    """The current ``{"id", "status", "progress", "url"}`` of a job, asked of the backend."""
    return _as_status(SoraJob.attach(video_id))


async def async_get_sora_video_status(video_id: str) -> SoraVideoStatus:
    """The async twin of ``get_sora_video_status``."""
    return _as_status(await SoraJob.async_attach(video_id))


def _as_status(job: SoraJob, snap: JobSnapshot | None = None) -> SoraVideoStatus:
    snap = snap or job.snapshot()
    return {
        "id": snap.id,
        "status": snap.status,
        "progress": snap.progress,
        "url": job.url if snap.status == "completed" else None,
    }


def download_sora_video_content(video_id: str, variant: Variant = "video") -> bytes:
    """The bytes of a completed job's video (MP4), thumbnail (WebP) or spritesheet (JPEG).
    Raises ``SoraJobFailed`` for a failed job and ``SoraError`` for an unfinished one."""
    job = SoraJob.attach(video_id)
    _require_completed(job)
    return job.download(variant).read_bytes()


async def async_download_sora_video_content(video_id: str, variant: Variant = "video") -> bytes:
    """The async twin of ``download_sora_video_content``."""
    job = await SoraJob.async_attach(video_id)
    _require_completed(job)
    return (await job.async_download(variant)).read_bytes()


def _require_completed(job: SoraJob) -> None:
    if job.done and job.status != "completed":
        outcome(job, 0.0)  # raises SoraJobFailed, SoraJobCancelled or SoraJobExpired
    if job.status != "completed":
        raise SoraError(
            f"Sora job {job.id} is {job.status}: its content is not ready; "
            f"wait with SoraJob.attach({job.id!r}).wait() or use generate_and_download_sora_video"
        )


def generate_and_download_sora_video(
    script: str,
    audio: AudioInput | None = None,
    model: str | None = None,
    duration: float | None = None,
    *,
    extra: dict[str, Any] | None = None,
    profile: ProfileName | None = None,
) -> bytes:
    """Generate, wait (at most 10 minutes) and return the MP4 bytes. With ``audio`` (a
    path, the bytes of an audio file, ``(samples, rate)`` or a moviepy clip) the track
    replaces Sora's soundtrack, fitted to the video's length (see ``merge_audio``).
    ``model``, ``duration``, ``extra`` and ``profile`` as for ``generate_video_with_sora``."""
    with _original_names():
        job = SoraJob(script, model=model, seconds=duration, extra=extra, profile=profile)
    job.wait(timeout=GENERATE_TIMEOUT)
    if audio is None:
        return job.read_bytes("video")
    return job.with_audio(audio).read_bytes()


async def async_generate_and_download_sora_video(
    script: str,
    audio: AudioInput | None = None,
    model: str | None = None,
    duration: float | None = None,
    *,
    extra: dict[str, Any] | None = None,
    profile: ProfileName | None = None,
) -> bytes:
    """The async twin of ``generate_and_download_sora_video``."""
    with _original_names():
        job = await SoraJob.async_create(script, model=model, seconds=duration, extra=extra,
                                         profile=profile)
    await job.async_wait(timeout=GENERATE_TIMEOUT)
    if audio is None:
        return await job.async_read_bytes("video")
    merged = await job.async_with_audio(audio)
    return await asyncio.to_thread(merged.read_bytes)


async def watch_sora_video(video_id: str) -> AsyncIterator[SoraVideoStatus]:
    """Yield the job's status dict on every change until it finishes: the original
    TypeScript module's websocket progress pattern, ready to forward to any consumer."""
    job = await SoraJob.async_attach(video_id)
    async for snap in job.updates():
        yield _as_status(job, snap)
