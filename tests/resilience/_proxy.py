"""A lossy HTTP reverse proxy on loopback for the reliability tests: it stands between
sora_nb and a real server and, drawing from a seeded stream, loses create answers (the
request is forwarded, the answer dropped), cuts downloads halfway, answers 5xx and 429
with ``retry-after``, drops connections, or slows content down to a trickle.

It is real networking (aiohttp on both sides, in a thread of its own), not a mock: the
client under test sees exactly what a flaky network and an overloaded gateway would show.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["LossyProxy", "ProxyFaults", "lossy_proxy"]

# Hop-by-hop and framing headers that a proxy must not copy from one connection to another
# (RFC 9110 section 7.6.1); aiohttp sets its own Content-Length / Transfer-Encoding.
_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "content-length", "host",
})


@dataclass(frozen=True)
class ProxyFaults:
    """Fractions of requests the proxy mistreats, drawn in this order (first match wins)."""

    #: ``POST /v1/videos``: forwarded, then the connection closes before the answer.
    lost_create: float = 0.0
    #: Content downloads: the headers and half the body, then the connection closes.
    cut_download: float = 0.0
    #: Answered 500/502/503 without being forwarded.
    server_error: float = 0.0
    #: Answered 429 with ``retry-after`` without being forwarded.
    rate_limit: float = 0.0
    #: The connection closes without any answer, nothing forwarded.
    drop: float = 0.0
    #: Seconds sent in ``retry-after`` of the proxy's 429s.
    retry_after: float = 0.05
    #: Seconds slept between 16 kB chunks of content bodies (0: as fast as possible).
    throttle: float = 0.0
    seed: int = 0


class LossyProxy:
    """The running proxy: ``base_url`` (with ``/v1``) replaces the server's in the client;
    ``counts`` says how often each fault struck and how many requests were forwarded."""

    def __init__(self, upstream: str, faults: ProxyFaults) -> None:
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.faults = faults
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(f"{faults.seed}:proxy")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # lifecycle --------------------------------------------------------------------------

    def start(self) -> LossyProxy:
        ready: Future[int] = Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                        name="lossy-proxy")
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{ready.result(timeout=30)}/v1"
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)

    def _serve(self, ready: Future[int]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            ready.set_result(loop.run_until_complete(self._startup()))
        except BaseException as exc:  # the test sees it from start()
            ready.set_exception(exc)
            return
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._cleanup())
            loop.close()

    async def _startup(self) -> int:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address: Any = self._runner.addresses[0]
        return int(address[1])

    async def _cleanup(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # the faults -------------------------------------------------------------------------

    def _draw(self, request: web.Request) -> str | None:
        f = self.faults
        # Always five draws, so one request's fate does not shift the next one's.
        lost, cut, error, limit, drop = (self._rng.random() for _ in range(5))
        if request.method == "POST" and request.path == "/v1/videos" and lost < f.lost_create:
            return "lost_create_answer"
        if request.path.endswith("/content") and cut < f.cut_download:
            return "cut_download"
        if error < f.server_error:
            return "server_error"
        if limit < f.rate_limit:
            return "rate_limit"
        if drop < f.drop:
            return "dropped_connection"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fault = self._draw(request)
        self.counts["requests"] += 1
        if fault is not None:
            self.counts[fault] += 1
        if fault == "dropped_connection":
            _close(request)
        if fault == "server_error":
            status = self._rng.choice((500, 502, 503))
            return _envelope(status, "The proxy had an error (injected).", "server_error")
        if fault == "rate_limit":
            seconds = self.faults.retry_after
            return _envelope(429, "Rate limited by the proxy (injected).", "rate_limit_exceeded",
                             headers={"retry-after": f"{seconds:g}"})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        assert self._session is not None
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                out_headers = {k: v for k, v in upstream.headers.items()
                               if k.lower() not in _HOP}
                status = upstream.status
        except aiohttp.ClientError:
            # The server dropped the connection (its own fault injection): so does the proxy.
            self.counts["upstream_dropped"] += 1
            _close(request)
        self.counts["forwarded"] += 1
        if fault == "lost_create_answer":
            _close(request)  # the server made the job; its answer never arrives
        response = web.StreamResponse(status=status, headers=out_headers)
        response.content_length = len(payload)
        try:
            await response.prepare(request)
            if fault == "cut_download":
                await response.write(payload[: len(payload) // 2])
                _close(request)
            step = 16 * 1024 if self.faults.throttle else max(1, len(payload))
            for offset in range(0, len(payload), step):
                await response.write(payload[offset : offset + step])
                if self.faults.throttle and request.path.endswith("/content"):
                    await asyncio.sleep(self.faults.throttle)
            await response.write_eof()
        except ConnectionError:  # the client went away (a test killed it): nothing to do
            _close(request)
        return response


def _close(request: web.Request) -> None:
    """End the exchange now: close the socket, send nothing more. (The embedded server
    drops connections the same way, see sora_nb/local/_server_app.py ``inject``.)"""
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError


def _envelope(status: int, message: str, code: str,
              headers: dict[str, str] | None = None) -> web.Response:
    kind = "server_error" if status >= 500 else "requests"
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status=status, headers=headers,
    )


@contextmanager
def lossy_proxy(upstream: str, faults: ProxyFaults) -> Iterator[LossyProxy]:
    proxy = LossyProxy(upstream, faults).start()
    try:
        yield proxy
    finally:
        proxy.stop()
