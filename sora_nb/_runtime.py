"""The one background thread that runs an asyncio loop for all polling and I/O, with one
``AsyncOpenAI`` client per backend. Sync entry points wait on futures from this loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx2
import openai

from ._config import Backend

__all__ = ["POOL_LIMITS", "SENDER_THREADS", "Runtime", "runtime"]

T = TypeVar("T")
C = TypeVar("C")  # a client class: AsyncOpenAI or OpenAI

#: One long-lived pool per client, sized for the work rather than the job count: polls go
#: mostly as lists (``_bulk``) and creates are bounded (``_many``), so 32 connections
#: serve 1,000 jobs. The SDK's default (``openai/_constants.py``: 1,000 connections, 100
#: kept alive) let 500 concurrent GETs open 500 connections, and the pool's bookkeeping
#: per request (``_assign_requests_to_connections``) grew with it: 33 % of the runtime
#: thread in py-spy (issue 13). Requests beyond 32 wait for a free connection.
POOL_LIMITS = httpx2.Limits(max_connections=32, max_keepalive_connections=32,
                            keepalive_expiry=30.0)

#: Threads that send creates with the blocking SDK client (``send_blocking``): as many as
#: creates may be in flight on one backend (``_many.CREATE_CONCURRENCY``). Why threads for
#: creates: the async client spent ~5 ms of the runtime thread per create (py-spy, 500
#: creates: httpcore's per-part body writes through anyio's checkpoints, pool bookkeeping),
#: the blocking one ~1.6 ms, and off the runtime thread, so polling goes on meanwhile;
#: 500 creates took 2.5x the naive thread-per-job loop, 1.3x with these (one run, load 8).
SENDER_THREADS = 32

# The SDK marks every videos method deprecated (OpenAI's hosted Sora shut down on
# 2026-09-24); sora_nb treats the endpoint as configuration and says once what it talks to,
# so the SDK's warning is hidden for calls made from inside the library, and only those:
# calls from sora_nb's modules, and the SDK's raw and streaming wrappers that sora_nb's
# polls and downloads go through (they call the deprecated method on sora_nb's behalf).
_SORA_DEPRECATION = r"The Sora API is scheduled to permanently shut down"
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"sora_nb(\.|$)")
warnings.filterwarnings(
    "ignore", _SORA_DEPRECATION, category=DeprecationWarning, module=r"openai\._(legacy_)?response$"
)


class Runtime:
    """A daemon thread owning an event loop; started on first use, shared by every job."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str], openai.AsyncOpenAI] = {}
        self._sync_clients: dict[tuple[str, str, str], openai.OpenAI] = {}
        self._senders: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The runtime's event loop, its thread started (again) on first use."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                started = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(loop, started), name="sora_nb-runtime", daemon=True
                )
                thread.start()
                started.wait()
                self._loop, self._thread = loop, thread
                self._clients.clear()  # clients of a dead loop cannot be used on a new one
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    def in_runtime_thread(self) -> bool:
        """True when called from the runtime thread (where blocking calls would deadlock)."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the runtime loop from any thread; return its future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the runtime loop and block the calling thread for its result.
        Works in scripts, IPython and Jupyter cells (it never touches the caller's loop)."""
        if self.in_runtime_thread():
            coro.close()
            raise RuntimeError(
                "a blocking sora_nb call was made from the sora_nb runtime thread "
                "(inside a progress callback?): use the async API there instead"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    async def wrap(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the runtime loop from whatever loop the caller runs."""
        if self.in_runtime_thread():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def client(self, backend: Backend) -> openai.AsyncOpenAI:
        """The ``AsyncOpenAI`` client of ``backend``; create it on first use. Retries are
        sora_nb's own (``with_retries``), so the SDK's are off."""
        return self._kept(self._clients, backend, lambda: openai.AsyncOpenAI(
            api_key=backend.api_key or "sora-nb-no-key", base_url=backend.base_url,
            max_retries=0, timeout=60.0,
            http_client=openai.DefaultAsyncHttpxClient(limits=POOL_LIMITS),
        ))

    def sync_client(self, backend: Backend) -> openai.OpenAI:
        """The blocking ``OpenAI`` client of ``backend`` for ``send_blocking`` (creates)."""
        return self._kept(self._sync_clients, backend, lambda: openai.OpenAI(
            api_key=backend.api_key or "sora-nb-no-key", base_url=backend.base_url,
            max_retries=0, timeout=60.0,
            http_client=openai.DefaultHttpxClient(limits=POOL_LIMITS),
        ))

    def _kept(self, store: dict[tuple[str, str, str], C], backend: Backend,
              make: Callable[[], C]) -> C:
        """``store``'s client for ``backend`` (by ``Backend.connection_key``), made once."""
        with self._lock:
            client = store.get(backend.connection_key)
            if client is None:
                client = store[backend.connection_key] = make()
            return client

    async def send_blocking(self, call: Callable[[], T]) -> T:
        """Run ``call`` (a blocking SDK request: a create) on a sender thread, started on
        first use, and await it on the runtime loop."""
        with self._lock:
            if self._senders is None:
                self._senders = concurrent.futures.ThreadPoolExecutor(
                    SENDER_THREADS, thread_name_prefix="sora_nb-send")
            senders = self._senders
        return await asyncio.get_running_loop().run_in_executor(senders, call)


runtime = Runtime()
