"""Job lifecycle of the local server (queued -> in_progress -> completed | failed over the
simulated run time) and rendering in worker processes, deduplicated by ``RenderSpec.key()``."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from ._dialect_base import render_params
from ._server_faults import JobFailure
from ._server_store import VARIANT_FIELDS, Job, JobStore, RenderFiles
from ._server_workers import WorkerPool

__all__ = [
    "MODERATION_MARKER",
    "RENDER_MODULE",
    "JobRunner",
    "Renderer",
    "moderation_failure",
]

log = logging.getLogger("sora_nb.local")

#: The module that provides ``RenderSpec`` and ``render(spec, out_dir)``.
RENDER_MODULE = "sora_nb.local.render"
#: Prompts containing this marker fail like a moderation block, after some progress.
MODERATION_MARKER = "[moderation-block]"
FPS = 24
#: How much lower than the server the render workers run (POSIX ``nice`` increment).
RENDER_NICENESS = 10


def moderation_failure(prompt: str) -> JobFailure | None:
    """The planned failure of a prompt carrying ``MODERATION_MARKER`` (any case)."""
    if MODERATION_MARKER not in prompt.lower():
        return None
    return JobFailure(
        0.3,
        "moderation_blocked",
        "Your request was blocked by our moderation system. (The local server blocks every "
        f"prompt containing {MODERATION_MARKER!r}; remove it to render.)",
    )


def _render_worker(module_name: str, spec: Any, renders_dir: str, key: str) -> None:
    """Run in a worker process: render ``spec`` into a temporary folder beside the final
    one, write ``result.json`` naming the files, then rename the folder into place."""
    final = Path(renders_dir) / key
    if (final / "result.json").is_file():
        return
    module = importlib.import_module(module_name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=renders_dir))
    try:
        result = module.render(spec, tmp)
        names: dict[str, str] = {}
        for variant in VARIANT_FIELDS:
            path = Path(getattr(result, variant))
            if path.parent.resolve() != tmp.resolve():
                shutil.copy2(path, tmp / path.name)
            names[variant] = path.name
        (tmp / "result.json").write_text(json.dumps(names), "utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "result.json").is_file():  # lost a race to an equal render: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Renderer:
    """Renders in at most ``workers`` worker processes, started on first use.
    A render already on disk or in flight with the same key is reused."""

    def __init__(self, store: JobStore, workers: int, module_name: str = RENDER_MODULE) -> None:
        self.store = store
        self.workers = workers
        self.module_name = module_name
        self._module: ModuleType | None = None
        self._pool: WorkerPool | None = None
        # Renders wait for a worker on threads of their own, never on the loop's default
        # executor: aiohttp's FileResponse needs that one to open and stat files, and 30
        # queued renders holding its threads once made a thumbnail wait 35 s. One thread per
        # worker; further renders queue as work items, holding no thread.
        self._threads: ThreadPoolExecutor | None = None
        self._inflight: dict[str, asyncio.Future[RenderFiles]] = {}
        self.renders_started = 0

    async def module(self) -> ModuleType:
        """The render module, imported off the event loop the first time."""
        if self._module is None:
            self._module = await asyncio.to_thread(importlib.import_module, self.module_name)
        return self._module

    def _executor(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.workers, RENDER_NICENESS)
        return self._pool

    async def render(self, spec: Any) -> tuple[str, RenderFiles]:
        key: str = await asyncio.to_thread(spec.key)
        files = self.store.render_files(key)
        if files is not None:
            return key, files
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._run(key, spec))
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return key, await asyncio.shield(future)

    async def _run(self, key: str, spec: Any) -> RenderFiles:
        pool = self._executor()
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="sora-nb-render")
        self.renders_started += 1
        args = (self.module_name, spec, str(self.store.renders_dir), key)
        await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(pool.call, f"{__name__}:_render_worker", *args)
        )
        files = self.store.render_files(key)
        if files is None:
            raise RuntimeError(f"render {key} finished but its files are missing")
        return files

    async def close(self) -> None:
        """Cancel the renders in flight (their processes are stopped by ``shutdown``)."""
        futures = list(self._inflight.values())
        for future in futures:
            future.cancel()
        await asyncio.gather(*futures, return_exceptions=True)

    def shutdown(self) -> None:
        """Stop the workers at once: running renders are killed (a killed render leaves
        only a temporary folder, swept by ``sweep_stale``)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
        threads, self._threads = self._threads, None
        if threads is not None:  # queued renders are dropped; running ones end with the pool
            threads.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """Process ids of the render workers now running (tests use it)."""
        return self._pool.pids() if self._pool is not None else []

    def sweep_stale(self, older_than: float = 3600.0) -> None:
        """Remove temporary render folders a killed worker left behind (old ones only: a
        young one may belong to another server sharing this data_dir)."""
        cutoff = time.time() - older_than
        for folder in self.store.renders_dir.glob(".*"):
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


class JobRunner:
    """Drives every unfinished job through its lifecycle on the server's event loop."""

    def __init__(self, store: JobStore, renderer: Renderer) -> None:
        self.store = store
        self.renderer = renderer
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(job), name=f"drive {job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))

    def forget(self, video_id: str) -> None:
        """Stop driving a deleted job (a shared render in flight goes on)."""
        task = self._tasks.pop(video_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drive(self, job: Job) -> None:
        try:
            await _sleep_until(job.created_at + min(0.1 * job.job_seconds, 2.0))
            if job.status == "queued":
                job.status = "in_progress"
                self.store.save(job)
            if job.planned_failure is not None:
                at = float(job.planned_failure["at"])
                await _sleep_until(job.created_at + at * job.job_seconds)
                progress = max(1, min(99, int(at * 100)))
                planned = job.planned_failure
                self._fail(job, planned["code"], planned["message"], progress)
                return
            spec = await self._spec(job)
            job.render_key, _ = await self.renderer.render(spec)
            self.store.save(job)
            await _sleep_until(job.created_at + job.job_seconds)
            job.status = "completed"
            job.completed_at = time.time()
            self.store.save(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sora_nb.local: job %s failed: %s", job.id, exc)
            message = f"Rendering failed on the local server: {exc}"
            self._fail(job, "internal_error", message, job.progress(time.time()))

    def _fail(self, job: Job, code: str, message: str, progress: int) -> None:
        job.status = "failed"
        job.error_code, job.error_message = code, message
        job.final_progress = progress
        job.completed_at = time.time()
        self.store.save(job)

    async def _spec(self, job: Job) -> Any:
        module = await self.renderer.module()
        source = reference = None
        if job.source_key is not None:
            files = self.store.render_files(job.source_key)
            if files is None:
                raise RuntimeError(f"the source video {job.source_id} is no longer on disk")
            source = files.video
        elif job.source_upload is not None:
            source = self.store.uploads_dir / job.source_upload
        if job.reference is not None:
            reference = self.store.uploads_dir / job.reference
        width, height = (int(v) for v in job.size.split("x"))
        extra = render_params(job) if job.fps or job.seed is not None or job.options else {}
        return module.RenderSpec(
            prompt=job.prompt,
            model=job.model,
            width=width,
            height=height,
            seconds=extra.pop("seconds", float(job.seconds)),
            kind=job.kind,
            source=source,
            source_id=job.source_id,
            reference=reference,
            fps=extra.pop("fps", FPS),
            **extra,  # a dialect's seed and details (vLLM-Omni, SGLang)
        )


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
