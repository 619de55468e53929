"""Creating many jobs: ``sweep`` (a prompt and options, any of them a list or range, as a
cartesian product) and ``batch`` (a list of requests), through one create queue per backend
with bounded concurrency that a 429 slows for every job on that backend.

Every request is validated before the call returns (a typed error names the request and
the parameter); the creates then run on the runtime loop, so 1,000 of them never block
the kernel: each ``Slot`` becomes its job when the backend made it."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import openai

from ._config import Backend
from ._create import create_retry_listener
from ._errors import SoraParameterError
from ._job import SoraJob, prepare
from ._params import VideoParams
from ._runtime import runtime
from ._types import JobOptions

__all__ = [
    "CREATE_CONCURRENCY",
    "CreateQueue",
    "Slot",
    "check_batch",
    "expand_sweep",
    "queue_for",
    "start_creates",
]

T = TypeVar("T")

#: Creates in flight at once on one backend (halved by each 429, regrown by successes):
#: the size of the HTTP pool (``_runtime.POOL_LIMITS``), so creates never queue in it.
CREATE_CONCURRENCY = 32


class CreateQueue:
    """The creates of one backend: at most ``limit`` at once; a 429 (``retry-after``
    honoured) pauses every create of the backend, not just the one that met it, and halves
    the limit, which each success raises by one again up to ``ceiling``.

    Waiting creates queue in order and a freed slot wakes only the next one, so 1,000
    queued creates cost one wake-up each, not one per slot freed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ceiling: int = CREATE_CONCURRENCY
                 ) -> None:
        self.loop = loop
        self.ceiling = self.limit = ceiling
        self.active = self.peak = self.rate_limited = 0
        self.resume_at = 0.0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` when a slot is free and no 429 pause is on."""
        if self._waiting or not self._free():
            slot: asyncio.Future[None] = self.loop.create_future()
            self._waiting.append(slot)
            self._dispatch()
            try:
                await slot  # _dispatch took the slot for this create
            except asyncio.CancelledError:
                if slot.done() and not slot.cancelled():
                    self._release(ok=False)  # granted, then cancelled: hand the slot on
                elif slot in self._waiting:
                    self._waiting.remove(slot)
                raise
        else:
            self._take()
        ok = False
        try:
            with create_retry_listener(self._heard):
                result = await make()
            ok = True
            return result
        finally:
            self._release(ok=ok)

    def _free(self) -> bool:
        return self.active < self.limit and self.loop.time() >= self.resume_at

    def _take(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)

    def _release(self, *, ok: bool) -> None:
        self.active -= 1
        if ok:
            self.limit = min(self.ceiling, self.limit + 1)
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant free slots to the first waiting creates; during a 429 pause, come back
        when it ends."""
        while self._waiting and self._free():
            slot = self._waiting.popleft()
            if not slot.done():
                self._take()
                slot.set_result(None)
        if self._waiting and self.active < self.limit and self._timer is None:
            self._timer = self.loop.call_at(self.resume_at, self._resume)

    def _resume(self) -> None:
        self._timer = None
        self._dispatch()

    def _heard(self, exc: Exception, delay: float) -> None:
        if isinstance(exc, openai.RateLimitError):
            self.rate_limited += 1
            self.resume_at = max(self.resume_at, self.loop.time() + delay)
            self.limit = max(1, self.limit // 2)


_queues: dict[str, CreateQueue] = {}


def queue_for(backend: Backend) -> CreateQueue:
    """The create queue of ``backend`` on the running (runtime) loop."""
    loop = asyncio.get_running_loop()
    key = backend.identity or backend.base_url
    found = _queues.get(key)
    if found is None or found.loop is not loop:
        found = _queues[key] = CreateQueue(loop)
    return found


class Slot:
    """One requested job: ``job`` is ``None`` until the backend created it (``error`` if
    that failed). ``on_created(fn)`` calls ``fn(slot)`` once it is settled."""

    def __init__(self, prompt: str, options: Mapping[str, Any]) -> None:
        self.prompt = prompt
        self.options = dict(options)
        self.future: concurrent.futures.Future[SoraJob] | None = None

    @property
    def job(self) -> SoraJob | None:
        f = self.future
        return f.result() if f is not None and f.done() and f.exception() is None else None

    @property
    def error(self) -> BaseException | None:
        f = self.future
        return f.exception() if f is not None and f.done() and not f.cancelled() else None

    @property
    def created(self) -> bool:
        return self.future is not None and self.future.done()

    def result(self, timeout: float | None = None) -> SoraJob:
        """The job, waiting for its create if need be (raises why it failed)."""
        assert self.future is not None
        return self.future.result(timeout)

    def on_created(self, fn: Callable[[Slot], None]) -> None:
        assert self.future is not None
        self.future.add_done_callback(lambda _f: fn(self))

    def __repr__(self) -> str:
        job = self.job
        state = (repr(job) if job is not None else "failed" if self.error is not None
                 else "waiting to be created")
        return f"<Slot {state}>"


def expand_sweep(prompt: str | Sequence[str], options: Mapping[str, Any]
                 ) -> list[tuple[str, dict[str, Any]]]:
    """The requests of a sweep: every combination (cartesian product) of ``prompt`` and
    the options given as a list, tuple or range, in keyword order with the last one varying
    fastest; other values are the same for every request. A keyword that is not a
    ``JobOptions`` key (``seed``, ``guidance_scale``...) is a server field sent in
    ``extra``. ``size`` as a ``(w, h)`` tuple is one value, not a sweep."""
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, (list, tuple)):
        prompts = list(prompt)
    else:
        raise SoraParameterError("prompt", prompt, "a prompt string or a list of them")
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise SoraParameterError("prompt", prompt, "a prompt string or a list of them")
    axes: list[tuple[str, list[Any]]] = []
    for name, value in options.items():
        sweeps = isinstance(value, (list, range)) or (
            isinstance(value, tuple) and name != "size")
        values = list(value) if sweeps else [value]
        if not values:
            raise SoraParameterError(name, value, "at least one value to sweep")
        axes.append((name, values))
    requests = []
    for combo in itertools.product(prompts, *(values for _, values in axes)):
        opts: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for (name, _), value in zip(axes, combo[1:], strict=True):
            if name in JobOptions.__optional_keys__:
                opts[name] = value
            else:
                extra[name] = value
        if extra:
            opts["extra"] = {**(opts.get("extra") or {}), **extra}
        requests.append((combo[0], opts))
    return requests


def check_batch(requests: Iterable[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``batch`` requests as ``(prompt, options)``; each a mapping with a ``prompt``."""
    if isinstance(requests, (str, bytes, Mapping)) or not isinstance(requests, Iterable):
        raise SoraParameterError("requests", requests, "a list of request dicts")
    out = []
    for i, request in enumerate(requests):
        if not isinstance(request, Mapping) or not isinstance(request.get("prompt"), str):
            raise SoraParameterError("requests", request,
                                     "a dict with a 'prompt' string and JobOptions keys",
                                     detail=f"request {i} of the list")
        options = {k: v for k, v in request.items() if k != "prompt"}
        out.append((request["prompt"], options))
    if not out:
        raise SoraParameterError("requests", requests, "at least one request")
    return out


def start_creates(requests: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Slot]:
    """Validate every request now (a ``SoraParameterError`` names the request), then start
    the creates on the runtime loop through each backend's queue; return their slots at
    once, before any job exists."""
    prepared: list[tuple[Slot, VideoParams, Backend, bool]] = []
    for i, (prompt, options) in enumerate(requests):
        try:
            params, backend, cache = prepare(prompt, options)  # type: ignore[arg-type]
        except SoraParameterError as exc:
            raise SoraParameterError(exc.param, exc.value, exc.allowed,
                                     detail=f"in request {i} of {len(requests)}") from None
        prepared.append((Slot(prompt, options), params, backend, cache))
    for slot, params, backend, cache in prepared:
        slot.future = runtime.submit(_create(params, backend, cache))
    return [slot for slot, *_ in prepared]


async def _create(params: VideoParams, backend: Backend, cache: bool) -> SoraJob:
    job = SoraJob.__new__(SoraJob)
    await queue_for(backend).run(lambda: job._start(params, backend, cache))
    return job
