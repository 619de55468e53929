"""Local server retrieve latency, idle and while 2 renders run: 200 pollers poll 200 jobs
every 250 ms from a separate process. The pollers speak HTTP/1.1 over raw asyncio streams
(one keep-alive connection each): an earlier version used httpx2, whose connection pool
scans every connection per request (``_assign_requests_to_connections`` ->
``has_expired`` -> ``getpeername``), so the load generator spent ~5x the server's CPU and
its own queueing showed up as "server latency" of seconds on a busy machine.

Each poller keeps its own fixed 250 ms grid (open loop: request k is sent at its start +
k * 250 ms, or at once if the answer to k-1 came later). An earlier version slept 250 ms
*after* each answer, so one stall (the machine busy for 100 ms) lined every poller up
behind it and they stayed lined up: up to 80 of the 200 requests arrived within 10 ms
(8 when spread), and the last of each burst waited for all the others. Latency is timed
from the request's actual send, so the pollers' own delays do not count against the
server. The pollers run in a session of their own: under Linux autogroup scheduling that
is a scheduling group of their own, as 200 clients on other machines would be, so their
CPU does not come out of the server's share of a busy machine. A probe on the server's
event loop (a 5 ms sleep, timed) shows how late the loop ran, which tells a server that
blocked from a machine that was busy (the row gives the load average too).

The jobs are completed (``job_seconds=0``), so a retrieve costs what an in-progress one
does and the pollers use the fixed 250 ms. For the busy phase 6 long renders are queued
(2 workers: 2 run at any time); the row says whether renders ran through the window."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import warnings
from typing import Any

from benchmarks._harness import Row, child, emit, median, percentile, read_config

POLLERS = 200
ROUNDS = 20
INTERVAL = 0.25
TARGET_P99_MS = 50.0
#: The loop probe's sleep (seconds).
PROBE = 0.005


async def _poll(port: int, key: str, ids: list[str], rounds: int) -> list[float]:
    latencies: list[float] = []

    async def poller(video_id: str, offset: float) -> None:
        await asyncio.sleep(offset)  # spread the first polls as real pollers would be
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = (f"GET /v1/videos/{video_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Authorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"
                   ).encode()
        start = time.perf_counter()
        try:
            for k in range(rounds):
                wait = start + k * INTERVAL - time.perf_counter()
                if wait > 0:  # this poller's own grid, whatever the answers took
                    await asyncio.sleep(wait)
                began = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - began)
                if status != 200 or json.loads(body)["id"] != video_id:
                    raise RuntimeError(f"bad answer {status}: {body[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(poller(v, i * INTERVAL / len(ids)) for i, v in enumerate(ids)))
    return latencies


def _child() -> None:
    config = read_config()
    cpu0 = os.times()
    began = time.perf_counter()
    latencies = asyncio.run(_poll(config["port"], config["key"], config["ids"], ROUNDS))
    cpu1 = os.times()
    emit({"latencies": latencies, "wall": time.perf_counter() - began,
          "cpu": cpu1.user + cpu1.system - cpu0.user - cpu0.system})


async def _probe(stop: asyncio.Event, lateness: list[float]) -> None:
    """On the server's loop: how late a 5 ms sleep wakes, again and again until ``stop``."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        began = loop.time()
        await asyncio.sleep(PROBE)
        lateness.append(loop.time() - began - PROBE)


def _phase(server: Any, ids: list[str]) -> dict[str, Any]:
    # the server's own loop (a private attribute: the benchmark looks inside on purpose)
    loop: asyncio.AbstractEventLoop = server._loop
    lateness: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.run_coroutine_threadsafe(_probe(stop, lateness), loop)
    c0 = os.times()
    out = child("bench_server", {"port": server.port, "key": server.api_key, "ids": ids},
                session=True)
    c1 = os.times()
    loop.call_soon_threadsafe(stop.set)
    probe.result(timeout=10)
    # this process is the server (its main thread waits for the child meanwhile)
    out["server_cpu"] = c1.user + c1.system - c0.user - c0.system
    out["loop_late"] = lateness
    out["load"] = os.getloadavg()[0]
    return out


def _describe(out: dict[str, Any]) -> tuple[str, float]:
    ms = [x * 1000 for x in out["latencies"]]
    n = len(ms)
    p99 = percentile(ms, 0.99)
    late = percentile([x * 1000 for x in out["loop_late"]], 0.99)
    text = (f"p99 {p99:.1f} ms, p50 {median(ms):.1f} ms, {n / out['wall']:.0f} req/s; server "
            f"loop late p99 {late:.1f} ms; CPU per request: server "
            f"{out['server_cpu'] / n * 1000:.2f} ms, pollers {out['cpu'] / n * 1000:.2f} ms; "
            f"load {out['load']:.1f}")
    return text, p99


def main() -> list[Row]:
    import openai

    from sora_nb import local

    warnings.simplefilter("ignore", DeprecationWarning)
    with local.start(job_seconds=0) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        first = client.videos.create_and_poll(prompt="Benchmark: a polled job")
        ids = [first.id] + [client.videos.create(prompt="Benchmark: a polled job").id
                            for _ in range(POLLERS - 1)]
        idle_text, idle = _describe(_phase(server, ids))
        renders = [client.videos.create(prompt=f"Benchmark: a busy renderer {k}",
                                        model="sora-2-pro", size="1792x1024", seconds="12")
                   for k in range(6)]
        time.sleep(2.0)  # the workers start and pick up two renders
        busy_text, busy = _describe(_phase(server, ids))
        done = sum(client.videos.retrieve(v.id).status == "completed" for v in renders)
    through = "renders ran through the window" if done <= 4 else (
        f"only {6 - done} of 6 queued renders still unfinished at the end")
    return [
        Row("server retrieve p99, idle", idle_text, "-", None, f"p99 < {TARGET_P99_MS:g} ms",
            idle < TARGET_P99_MS,
            note=f"{POLLERS} pollers in their own session, each on its own "
                 f"{INTERVAL * 1000:g} ms grid"),
        Row("server retrieve p99, 2 renders running", busy_text, idle_text + " (idle)",
            busy / idle, f"p99 < {TARGET_P99_MS:g} ms", busy < TARGET_P99_MS, note=through),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    else:
        for row in main():
            print(row.line())
