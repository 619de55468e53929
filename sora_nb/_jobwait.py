"""Waiting for a job: ``wait``/``async_wait`` (timeout, the terminal bar) and what the job's
end becomes for the caller: the job itself, or the error that says why there is no video.

The ``SoraJob`` methods of the same names delegate here (this module imports ``_job`` for
types only, so there is no cycle)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import TYPE_CHECKING

from ._errors import (
    SoraError,
    SoraJobCancelled,
    SoraJobExpired,
    SoraJobFailed,
    SoraParameterError,
    SoraTimeout,
)
from ._runtime import runtime
from ._views import views

if TYPE_CHECKING:
    from ._job import SoraJob

__all__ = ["async_wait", "outcome", "wait"]


def wait(job: SoraJob, timeout: float | None, progress: bool | None) -> SoraJob:
    """``job.wait(timeout, progress=...)``: block until ``job`` is settled."""
    if runtime.in_runtime_thread():
        raise RuntimeError(
            "job.wait() was called from the sora_nb runtime thread (inside a progress "
            "callback?): it would block every job's polling; use `await job` there"
        )
    limit = _check_timeout(timeout)
    if progress is not None and not isinstance(progress, bool):
        raise SoraParameterError("progress", progress, "None (automatic), True or False")
    # no bar for a job already settled (download() waits too: one bar per job)
    bar = (views.progress_bar(progress) if views.progress_bar is not None
           and not job._settled.is_set() else None)
    unsubscribe = job.on_progress(bar) if bar is not None else None
    started = time.monotonic()
    try:
        if not job._settled.wait(limit):
            raise SoraTimeout(job, time.monotonic() - started)
    finally:
        if unsubscribe is not None and bar is not None:
            unsubscribe()
            bar.close()
    return outcome(job, time.monotonic() - started)


async def async_wait(job: SoraJob, timeout: float | None) -> SoraJob:
    """``await job.async_wait(timeout)``: wait for ``job``'s last update."""
    limit = _check_timeout(timeout)
    started = time.monotonic()

    async def settle() -> None:
        async for _ in job.updates():
            pass

    try:
        await asyncio.wait_for(settle(), limit)
    except asyncio.TimeoutError:
        raise SoraTimeout(job, time.monotonic() - started) from None
    return outcome(job, time.monotonic() - started)


def outcome(job: SoraJob, waited: float) -> SoraJob:
    """``job`` if it completed; else raise why not: the final status's ``SoraJobFailed``
    kind, ``SoraTimeout`` (``waited`` seconds) once polling timed out, or what stopped it."""
    if job.status == "completed":
        return job
    if job.status in _FAILURES:
        err = job.error
        kind = _FAILURES[job.status]
        raise kind(job, err.code if err else None, err.message if err else None)
    if job._poll_state == "timed_out":
        raise SoraTimeout(job, waited)
    if job._poll_state == "error" and job._failure is not None:
        raise job._failure
    raise SoraError(f"Sora job {job.id}: {job._note or job._poll_state}")


def _check_timeout(timeout: object) -> float | None:
    """``wait(timeout=...)``: ``None`` or seconds >= 0, as the float to wait with (``None``
    for no limit, which is also what an infinite or an unrepresentably long one means)."""
    if timeout is None:
        return None
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or math.isnan(timeout) or timeout < 0):
        raise SoraParameterError("timeout", timeout, "None (no limit) or seconds >= 0")
    # threading's waits refuse anything past TIMEOUT_MAX (OverflowError): that is forever
    return None if timeout >= threading.TIMEOUT_MAX else float(timeout)


#: The error ``wait()`` raises for each final status without a video.
_FAILURES: dict[str, type[SoraJobFailed]] = {
    "failed": SoraJobFailed, "cancelled": SoraJobCancelled, "expired": SoraJobExpired,
}
