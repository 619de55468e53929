"""Many jobs in flight: sora_nb (``SoraJob.attach_many``, one runtime thread) against a
naive thread-per-job loop (the SDK's sync client; one thread per job retrieves it, sleeps
1 s, and again). The jobs are made beforehand with the SDK; the server (in this process)
holds them in progress for an hour and hints ``openai-poll-after-ms: 1000``, so both
clients are asked for N GET/s.

The client runs in a child process: its threads, CPU seconds and RSS are its own. Over a
window of ``WINDOW`` seconds (after a short settling time) the child records when each job
was refreshed (sora_nb: every ``on_progress`` call, which sora_nb makes on each status it
receives; naive: after each retrieve) and the server counts the GETs it served.

Creating 500 jobs is its own row: ``snb.compare`` (sora_nb's call for many jobs) against
500 SDK threads, each in a fresh child, capped at ``CREATE_CAP`` seconds."""

from __future__ import annotations

import itertools
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from benchmarks._harness import (
    Row,
    child,
    emit,
    percentile,
    proc_status,
    read_config,
    run_child,
)

COUNTS = (50, 200, 500, 1000)
#: a run may measure fewer (e.g. "50,200" when time is short); the others then fail
MEASURED = tuple(int(n) for n in os.environ.get("SORA_NB_BENCH_COUNTS", "").split(",") if n)
INTERVAL = 1.0
WINDOW = float(os.environ.get("SORA_NB_BENCH_WINDOW", "10"))
SETTLE = 3.0
#: creating 500 jobs is given up (and reported) after this many seconds
CREATE_CAP = 90.0
#: sora_nb follows the jobs with SoraJob.attach_many; on a loaded machine that can crawl,
#: so the row fails after this many seconds, saying how many it follows
ATTACH_CAP = 45.0
PROMPT = "Benchmark: a job in flight"
RETRIEVE = "/v1/videos/{video_id}"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _recorder(stamps: list[float]) -> Callable[[object], None]:
    def record(_snapshot: object) -> None:
        stamps.append(time.monotonic())

    return record


def _create(config: dict[str, Any], n: int, which: str, cache: str) -> None:
    """Create ``n`` jobs (sora_nb: ``snb.compare``, its call for many jobs at once;
    naive: one SDK thread per job); report the seconds, or give up after ``CREATE_CAP``."""
    began = time.monotonic()
    done = threading.Event()

    def run() -> None:
        if which == "create-naive":
            import openai

            client = openai.OpenAI(base_url=config["base_url"], api_key=config["key"],
                                   max_retries=0)
            threads = [threading.Thread(target=client.videos.create,
                                        kwargs={"prompt": PROMPT, "seconds": "4"}, daemon=True)
                       for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            import sora_nb as snb

            snb.configure(backend="local", base_url=config["base_url"],
                          api_key=config["key"], cache_dir=cache)
            # compare() returns at once (the creates run in the background queue);
            # grid.jobs waits until every job exists, which is what this row times
            made = snb.compare([PROMPT] * n, seconds=4, cache=False, enhance=False).jobs
            assert len(made) == n
        done.set()

    threading.Thread(target=run, daemon=True).start()
    finished = done.wait(CREATE_CAP)
    emit({"seconds": time.monotonic() - began if finished else None})
    shutil.rmtree(cache, ignore_errors=True)
    os._exit(0)  # a capped run leaves threads behind: do not wait for them


def _child() -> None:
    config = read_config()
    warnings.simplefilter("ignore", DeprecationWarning)
    n, which = int(config["n"]), config["client"]
    times: list[list[float]] = [[] for _ in range(n)]
    stop = threading.Event()
    cache = tempfile.TemporaryDirectory(prefix="sora_nb-bench-inflight-")
    ids: list[str] = config["ids"]
    attached = n
    attach_seconds = 0.0
    if which.startswith("create"):
        _create(config, n, which, cache.name)
        return
    if which == "naive":
        import openai

        client = openai.OpenAI(base_url=config["base_url"], api_key=config["key"],
                               max_retries=0)

        def loop(k: int) -> None:
            while not stop.is_set():
                client.videos.retrieve(ids[k])
                times[k].append(time.monotonic())
                stop.wait(INTERVAL)

        for k in range(n):
            threading.Thread(target=loop, args=(k,), daemon=True).start()
    else:
        import sora_nb as snb

        snb.configure(backend="local", base_url=config["base_url"], api_key=config["key"],
                      cache_dir=cache.name)
        began = time.monotonic()
        jobs = snb.SoraJob.attach_many(ids)
        attach_seconds = time.monotonic() - began
        attached = len(jobs) if attach_seconds <= ATTACH_CAP else 0
        for job, stamps in zip(jobs, times, strict=True):
            job.on_progress(_recorder(stamps))
    time.sleep(SETTLE)
    cpu0, start = _cpu(), time.monotonic()
    emit({"event": "window"})
    time.sleep(WINDOW)
    end, cpu1 = time.monotonic(), _cpu()
    emit({"event": "end"})
    threads_now = proc_status("Threads")
    rss = proc_status("VmRSS")
    stop.set()
    worst: list[float] = []
    for stamps in times[:attached]:
        inside = [t for t in stamps if start <= t <= end]
        before = [t for t in stamps if t < start]
        points = before[-1:] + inside + [end]
        gaps = [b - a for a, b in itertools.pairwise(points)]
        worst.append(max(gaps) if gaps and before else end - start)
    if which == "naive":
        cache.cleanup()
    emit({"attached": attached, "attach_seconds": attach_seconds, "cpu": cpu1 - cpu0,
          "window": end - start, "threads": threads_now, "rss_mb": rss / 1024, "worst_gap": worst})
    if which != "naive":
        cache.cleanup()
        os._exit(0)  # thousands of polling tasks: do not wait for an orderly teardown


def _make_jobs(server: Any, n: int) -> list[str]:
    """``n`` in-progress jobs, created with the SDK from 16 threads."""
    from concurrent.futures import ThreadPoolExecutor

    import openai

    warnings.simplefilter("ignore", DeprecationWarning)
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: client.videos.create(prompt=PROMPT, seconds="4").id,
                             range(n)))


def creation(n: int, which: str) -> float | None:
    from sora_nb import local

    with local.start(job_seconds=3600) as server:
        out = child("bench_inflight", {"client": which, "n": n, "ids": [],
                                       "base_url": server.base_url, "key": server.api_key},
                    timeout=CREATE_CAP + 60)
    seconds = out["seconds"]
    return None if seconds is None else float(seconds)


def measure(n: int, which: str) -> dict[str, Any]:
    from sora_nb import local

    with local.start(job_seconds=3600, poll_after_ms=int(INTERVAL * 1000)) as server:
        ids = _make_jobs(server, n)
        proc = run_child("bench_inflight", {"client": which, "n": n, "ids": ids,
                                            "base_url": server.base_url,
                                            "key": server.api_key})
        assert proc.stdout is not None
        marks: dict[str, Any] = {}
        result: dict[str, Any] = {}
        for line in proc.stdout:
            msg = json.loads(line)
            event = msg.get("event")
            if event in ("window", "end"):
                marks[event] = (server.requests.count("GET", RETRIEVE), time.monotonic())
            elif event is None:
                result = msg
        proc.wait(timeout=120)
        if proc.returncode != 0 or not result:
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise RuntimeError(f"bench_inflight child {which} n={n} failed:\n{err[-3000:]}")
        if proc.stderr is not None:
            proc.stderr.close()
        proc.stdout.close()
    gets = marks["end"][0] - marks["window"][0]
    result["get_rate"] = gets / (marks["end"][1] - marks["window"][1])
    return result


def _fmt(r: dict[str, Any], n: int) -> str:
    per20 = r["cpu"] * 20 / r["window"]
    followed = "" if r["attached"] == n else f"not attached within {ATTACH_CAP:g} s; "
    took = f"attached in {r['attach_seconds']:.1f} s; " if r["attach_seconds"] else ""
    return (f"{followed}{took}{r['threads']} threads, CPU {per20:.2f} s/20 s, "
            f"{r['get_rate']:.0f} of {n} GET/s, RSS {r['rss_mb']:.0f} MB, worst refresh gap "
            f"{max(r['worst_gap']):.2f} s (p99 {percentile(r['worst_gap'], 0.99):.2f} s)")


def main(counts: tuple[int, ...] = MEASURED or COUNTS) -> list[Row]:
    rows = [Row(f"{n} jobs in flight", "not measured in this run", "-", None,
                "every job refreshed within 1.5 s, CPU <= 1/3 naive", False,
                note="left out with SORA_NB_BENCH_COUNTS") for n in COUNTS if n not in counts]
    for n in counts:
        ours = measure(n, "sora_nb")
        naive = measure(n, "naive")
        cpu_ratio = ours["cpu"] / naive["cpu"] if naive["cpu"] > 0 else float("inf")
        refreshed = ours["attached"] == n and max(ours["worst_gap"]) <= 1.5 * INTERVAL
        rows.append(Row(
            f"{n} jobs in flight", _fmt(ours, n), _fmt(naive, n) + " (naive thread-per-job)",
            cpu_ratio, "every job refreshed within 1.5 s, CPU <= 1/3 naive",
            refreshed and cpu_ratio <= 1 / 3,
            note=f"jobs made beforehand; sora_nb: SoraJob.attach_many; {WINDOW:g} s window, "
                 "CPU scaled to 20 s; ratio = CPU"))
    ours_s, naive_s = creation(500, "create-sora_nb"), creation(500, "create-naive")
    shown = f"{ours_s:.1f} s" if ours_s is not None else f"> {CREATE_CAP:g} s (gave up)"
    base = f"{naive_s:.1f} s" if naive_s is not None else f"> {CREATE_CAP:g} s (gave up)"
    ratio = ours_s / naive_s if ours_s is not None and naive_s else None
    rows.append(Row("create 500 jobs", shown, base + " (naive thread-per-job)", ratio,
                    "<= 1x the naive loop", ratio is not None and ratio <= 1,
                    note="sora_nb: snb.compare([...500 prompts]); naive: 500 SDK threads"))
    return rows


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    else:
        for row in main(tuple(int(a) for a in sys.argv[1:]) or COUNTS):
            print(row.line())
