"""The embedded Sora-compatible HTTP server: ``start()`` runs the OpenAI Videos API on
127.0.0.1 in a daemon thread with its own event loop; renders happen in worker processes."""

from __future__ import annotations

import asyncio
import atexit
import ipaddress
import math
import secrets
import shutil
import tempfile
import threading
import weakref
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._errors import SoraConfigError, SoraParameterError, register_secret
from .._types import VARIANTS
from ._server_dialects import DIALECTS
from ._server_faults import FaultConfig
from ._server_jobs import MODERATION_MARKER

if TYPE_CHECKING:
    from aiohttp import web

    from ._server_app import RequestLog, ServerContext

__all__ = ["DIALECTS", "MODERATION_MARKER", "FaultConfig", "LocalServer", "start"]

_LIVE: weakref.WeakSet[LocalServer] = weakref.WeakSet()
_STOP_TIMEOUT = 120.0


def start(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    api_key: str | None = None,
    job_seconds: float = 3.0,
    poll_after_ms: int | None = None,
    faults: FaultConfig | None = None,
    data_dir: Path | None = None,
    workers: int = 2,
    dialect: str = "sora",
    expire_after: float | None = None,
) -> LocalServer:
    """Start a local Sora-compatible server and return once it listens.

    ``port=0`` picks a free port. ``job_seconds`` is the simulated run time of a job (0: as
    fast as rendering allows). With ``data_dir`` the jobs survive the server: a later
    ``start()`` on the same folder serves them again (unfinished ones are rendered anew);
    without it everything lives in a temporary folder removed by ``stop()``.

    Renders run in at most ``workers`` worker processes started as ``python -m`` (never
    through multiprocessing), so a plain script needs no ``if __name__ == "__main__":``.

    ``dialect`` picks which server it answers as: ``"sora"`` (OpenAI's Videos API, the
    default), ``"vllm-omni"``, ``"sglang"`` or ``"gateway"`` (a LiteLLM proxy in front of
    the Sora API); see ``sora_nb/local/_server_dialects.py``. With ``expire_after`` a
    completed job's assets expire that many seconds after completion (its status becomes
    ``"expired"`` where the server has that status, and downloads fail as they would there).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise SoraParameterError("port", port, "an int from 0 (any free port) to 65535")
    if not _is_loopback(host):
        raise SoraParameterError(
            "host", host, "a loopback address: '127.0.0.1', 'localhost' or '::1'",
            detail="the local server never listens on a network interface",
        )
    if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
        allowed = "a non-empty string, or None for a random key"
        raise SoraParameterError("api_key", "<hidden>", allowed)
    if (isinstance(job_seconds, bool) or not isinstance(job_seconds, (int, float))
            or not math.isfinite(job_seconds) or job_seconds < 0):
        raise SoraParameterError("job_seconds", job_seconds, "a finite number of seconds >= 0")
    if poll_after_ms is not None and (
        isinstance(poll_after_ms, bool) or not isinstance(poll_after_ms, int) or poll_after_ms < 0
    ):
        raise SoraParameterError("poll_after_ms", poll_after_ms, "an int >= 0, or None")
    if faults is not None and not isinstance(faults, FaultConfig):
        raise SoraParameterError("faults", faults, "a sora_nb.local.FaultConfig or None")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SoraParameterError("workers", workers, "an int >= 1")
    if dialect not in DIALECTS:
        raise SoraParameterError("dialect", dialect, ", ".join(repr(d) for d in DIALECTS))
    if expire_after is not None and (
        isinstance(expire_after, bool) or not isinstance(expire_after, (int, float))
        or not math.isfinite(expire_after) or expire_after < 0
    ):
        raise SoraParameterError("expire_after", expire_after,
                                 "a finite number of seconds >= 0, or None")
    server = LocalServer(
        host="127.0.0.1" if host == "localhost" else host,
        port=port,
        api_key=api_key or f"sora-local-{secrets.token_urlsafe(24)}",
        job_seconds=float(job_seconds),
        poll_after_ms=poll_after_ms,
        faults=faults or FaultConfig(),
        data_dir=Path(data_dir).expanduser() if data_dir is not None else None,
        workers=workers,
        dialect=dialect,
        expire_after=None if expire_after is None else float(expire_after),
    )
    server._start()
    return server


class LocalServer:
    """A running local server (see ``start()``). A context manager; ``stop()`` is idempotent.

    ``base_url`` and ``api_key`` go to ``openai.OpenAI(base_url=..., api_key=...)``;
    ``requests`` records every request for tests; ``dialect`` names the server it answers as.
    """

    base_url: str
    port: int
    data_dir: Path
    requests: RequestLog
    dialect: str

    def __init__(
        self, *, host: str, port: int, api_key: str, job_seconds: float,
        poll_after_ms: int | None, faults: FaultConfig, data_dir: Path | None, workers: int,
        dialect: str = "sora", expire_after: float | None = None,
    ) -> None:
        from ._server_app import RequestLog

        self._host = host
        self._requested_port = port
        self.__key = api_key
        register_secret(api_key)
        self._job_seconds = job_seconds
        self._poll_after_ms = poll_after_ms
        self._faults = faults
        self._workers = workers
        self.dialect = dialect
        self._expire_after = expire_after
        self._temporary = data_dir is None
        self.data_dir = data_dir if data_dir is not None else Path(
            tempfile.mkdtemp(prefix="sora-nb-local-")
        )
        self.requests = RequestLog()
        self.port = 0
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ctx: ServerContext | None = None
        self._runner: web.AppRunner | None = None
        self._stop_lock = threading.Lock()
        self._stopped = False

    @property
    def api_key(self) -> str:
        return self.__key

    @property
    def running(self) -> bool:
        """True from ``start()`` until ``stop()`` (or until its thread died)."""
        return not self._stopped and self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        jobs = len(self._ctx.store) if self._ctx is not None else 0
        state = "" if not self._stopped else " stopped"
        dialect = "" if self.dialect == "sora" else f" dialect={self.dialect}"
        return f"<LocalServer {self.base_url or '(not started)'}{dialect} jobs={jobs}{state}>"

    def content_url(self, video_id: str, variant: str = "video") -> str:
        """URL of a job's asset (the request still needs the Bearer key)."""
        if variant not in VARIANTS:
            allowed = ", ".join(repr(v) for v in VARIANTS)
            raise SoraParameterError("variant", variant, allowed)
        return f"{self.base_url}/videos/{quote(video_id, safe='')}/content?variant={variant}"

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # lifecycle ----------------------------------------------------------------------------

    def _start(self) -> None:
        ready: Future[int] = Future()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="sora-nb-local-server", daemon=True
        )
        self._thread.start()
        try:
            self.port = ready.result(timeout=60)
        except BaseException as exc:
            self._thread.join(timeout=10)
            self._cleanup_files()
            self._stopped = True
            raise SoraConfigError(
                f"the local Sora server could not start on {self._host}:"
                f"{self._requested_port}: {exc}"
            ) from exc
        shown = f"[{self._host}]" if ":" in self._host else self._host
        self.base_url = f"http://{shown}:{self.port}/v1"
        _LIVE.add(self)

    def _serve(self, ready: Future[int]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            port = loop.run_until_complete(self._startup())
        except BaseException as exc:
            ready.set_exception(exc)
            loop.run_until_complete(self._cleanup())
            loop.close()
            return
        ready.set_result(port)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._cleanup())
            loop.close()

    async def _startup(self) -> int:
        from aiohttp import web

        from ._server_app import ServerContext, build_app
        from ._server_dialects import dialect_named
        from ._server_faults import FaultInjector
        from ._server_jobs import RENDER_MODULE, JobRunner, Renderer
        from ._server_store import JobStore

        store = JobStore(self.data_dir)
        renderer = Renderer(store, self._workers, _render_module or RENDER_MODULE)
        runner = JobRunner(store, renderer)
        self._ctx = ServerContext(
            api_key=self.__key, store=store, renderer=renderer, runner=runner,
            faults=FaultInjector(self._faults), requests=self.requests,
            job_seconds=self._job_seconds, poll_after_ms=self._poll_after_ms,
            latency=self._faults.latency, retry_after=self._faults.retry_after,
            dialect=dialect_named(self.dialect), expire_after=self._expire_after,
        )
        await asyncio.to_thread(renderer.sweep_stale)
        for job in await asyncio.to_thread(store.load):
            runner.start(job)  # unfinished in an earlier process: render again
        self._runner = web.AppRunner(build_app(self._ctx), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port, backlog=1024)
        await site.start()
        address: Any = self._runner.addresses[0]
        return int(address[1])

    async def _cleanup(self) -> None:
        if self._ctx is not None:
            await self._ctx.runner.close()
            await self._ctx.renderer.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving, stop the render workers, and remove the temporary data folder
        (a ``data_dir`` given to ``start()`` is kept). Safe to call twice."""
        with self._stop_lock:
            if self._stopped:
                return
            if self._thread is threading.current_thread():
                raise RuntimeError("LocalServer.stop() cannot run on the server's own thread")
            self._stopped = True
        _LIVE.discard(self)
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=_STOP_TIMEOUT)
        if self._ctx is not None:
            self._ctx.renderer.shutdown()
        self._cleanup_files()

    def _cleanup_files(self) -> None:
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)


#: Tests may point the workers at another module exposing ``RenderSpec`` and ``render``.
_render_module: str | None = None


def _is_loopback(host: object) -> bool:
    if host == "localhost":
        return True
    try:
        return isinstance(host, str) and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()
