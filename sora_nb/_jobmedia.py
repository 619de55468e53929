"""A job's media: its downloads (cached, optionally copied to a path), their bytes and the
audio merge, for ``SoraJob``'s ``download``/``read_bytes``/``with_audio`` and async twins.

Each function takes the job first; the ``SoraJob`` methods of the same names delegate here
(this module imports ``_job`` for types only, so there is no cycle)."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _store, _videos
from ._config import settings
from ._errors import SoraParameterError
from ._fs import atomic_path
from ._ids import path_segment
from ._runtime import runtime
from ._types import VARIANTS, Variant, allowed

if TYPE_CHECKING:
    from ._audio import MergedVideo
    from ._job import SoraJob
    from ._types import AudioInput

__all__ = [
    "async_download",
    "async_read_bytes",
    "async_with_audio",
    "download",
    "read_bytes",
    "with_audio",
]


def download(job: SoraJob, variant: Variant, path: str | Path | None) -> Path:
    """``job.download(variant, path)``: wait for the job, then fetch (see ``_fetch``)."""
    _check_target(path)
    job.wait()
    return runtime.run(_fetch(job, variant, path))


async def async_download(job: SoraJob, variant: Variant, path: str | Path | None) -> Path:
    """``await job.async_download(variant, path)``."""
    _check_target(path)
    await job.async_wait()
    return await runtime.wrap(_fetch(job, variant, path))


def read_bytes(job: SoraJob, variant: Variant) -> bytes:
    """``job.read_bytes(variant)``: the cached download's content."""
    return job.download(variant).read_bytes()


async def async_read_bytes(job: SoraJob, variant: Variant) -> bytes:
    """``await job.async_read_bytes(variant)``."""
    path = await job.async_download(variant)
    return await asyncio.to_thread(path.read_bytes)


def with_audio(job: SoraJob, audio: AudioInput, options: dict[str, Any]) -> MergedVideo:
    """``job.with_audio(audio, **options)``: the downloaded video with ``audio`` merged."""
    # Deferred: _audio loads numpy and moviepy (hundreds of ms), needed only here.
    from ._audio import merge_audio

    return merge_audio(job.download(), audio, **options)


async def async_with_audio(job: SoraJob, audio: AudioInput,
                           options: dict[str, Any]) -> MergedVideo:
    """``await job.async_with_audio(audio, **options)`` (the merge runs in a worker thread)."""
    # Deferred: _audio loads numpy and moviepy (hundreds of ms), needed only here.
    from ._audio import merge_audio

    video = await job.async_download()
    return await asyncio.to_thread(merge_audio, video, audio, **options)


async def _fetch(job: SoraJob, variant: Variant, path: str | Path | None) -> Path:
    """The cached file of ``variant`` (one download per variant and job, shared by every
    caller; a failed one is tried again), copied to ``path`` when one is given."""
    if variant not in VARIANTS:
        raise SoraParameterError("variant", variant, allowed(VARIANTS))
    _check_target(path)
    if job.status != "completed":
        await job.async_wait()
    future = job._downloads.get(variant)
    if future is None or (future.done() and future.exception() is not None):
        future = asyncio.ensure_future(_videos.download_asset(
            job._backend, job.id, variant, settings.poll,
            functools.partial(_made_from_video, job)))
        job._downloads[variant] = future
    cached = await asyncio.shield(future)
    if path is None:
        return cached
    target = Path(path).expanduser()
    if target.is_dir():  # named after the id, as one safe bounded file name
        target = target / f"{path_segment(job.id)}.{_store.EXTENSIONS[variant]}"
    with atomic_path(target) as tmp:
        shutil.copyfile(cached, tmp)
    return target


def _made_from_video(job: SoraJob, variant: Variant) -> None:
    """A still sora_nb made from the MP4 (the server has none): the card says so."""
    if variant not in job._made_locally:
        job._update(made_locally=(*job._made_locally, variant))


def _check_target(path: object) -> None:
    """``download(path=...)``: None, or a non-empty path (a file or an existing folder)."""
    allowed_paths = "None (the cache only), or a file or folder path"
    if path is None:
        return
    if not isinstance(path, (str, os.PathLike)):
        raise SoraParameterError("path", path, allowed_paths)
    try:
        text = os.fspath(path)
    except Exception:  # an os.PathLike whose __fspath__ fails
        raise SoraParameterError("path", path, allowed_paths) from None
    if not isinstance(text, str):
        raise SoraParameterError("path", path, allowed_paths, detail="a str path")
    if not text.strip():
        raise SoraParameterError("path", path, allowed_paths, detail="it is empty")
    if "\x00" in text:
        raise SoraParameterError("path", path, allowed_paths, detail="it holds a NUL")
