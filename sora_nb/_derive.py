"""Derived jobs: the remix, extension or edit of a finished job, made as a new job, for
``SoraJob.remix``/``extend``/``edit`` and their async twins.

The ``SoraJob`` methods delegate here; the new job itself is built by the source job
(``SoraJob._derived``), so this module imports ``_job`` for types only (no cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _videos
from ._config import settings
from ._params import normalize_prompt, normalize_seconds
from ._profiles import normalize_generic_seconds
from ._prompt import enhance_prompt
from ._runtime import runtime

if TYPE_CHECKING:
    from ._job import SoraJob

__all__ = ["async_derive", "derive"]


def derive(job: SoraJob, kind: _videos.DeriveKind, prompt: str, enhance: bool,
           seconds: float | int | str | None = None) -> SoraJob:
    """Wait for ``job``, then make the new job ``kind`` says (``seconds``: extend only)."""
    job.wait()
    added = _extension(job, seconds) if kind == "extend" else None
    return runtime.run(_send(job, kind, prompt, enhance, added))


async def async_derive(job: SoraJob, kind: _videos.DeriveKind, prompt: str, enhance: bool,
                       seconds: float | int | str | None = None) -> SoraJob:
    """The async twin of ``derive``."""
    await job.async_wait()
    added = _extension(job, seconds) if kind == "extend" else None
    return await runtime.wrap(_send(job, kind, prompt, enhance, added))


def _extension(job: SoraJob, seconds: float | int | str | None) -> int | None:
    """The seconds an extension adds, by the rules of the job's backend profile."""
    if job._backend.profile == "sora":
        return normalize_seconds(seconds)
    return normalize_generic_seconds(seconds)


async def _send(job: SoraJob, kind: _videos.DeriveKind, prompt: str, enhance: bool,
                seconds: int | None) -> SoraJob:
    original = normalize_prompt(prompt)
    sent = enhance_prompt(original) if enhance else original
    video = await _videos.derive_video(job._backend, job.id, kind, sent, original,
                                       seconds, settings.poll)
    return job._derived(video, original)
