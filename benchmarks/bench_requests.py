"""Requests per job and completion delay: ``SoraJob(...).wait()`` against the SDK's
``client.videos.create_and_poll`` on jobs of 3, 12 and 60 s (embedded server, default
``openai-poll-after-ms`` hints). Each client runs in its own process with its own server,
so the GETs the server logs are that client's alone; the six run side by side.

Completion delay = the moment the client has the completed job minus the moment the
server marked it completed (``completed_at`` with sub-second precision, from the job file
the server keeps in its ``data_dir``; the API field is whole seconds). The target's
"hint" is the ``openai-poll-after-ms`` the server sends just before a job completes,
measured by a probe GET 0.3 s before the end of one more job (on the 60 s server, the 12 s
server's figure: the rule is the same and a probe would cost another minute)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, emit, median, read_config, run_child

LENGTHS = ((3.0, 3), (12.0, 2), (60.0, 1))  # (job seconds, jobs per client)
PROMPT = "Benchmark: a lighthouse beam sweeping the fog"
RETRIEVE = "/v1/videos/{video_id}"


def _completed_at(data_dir: Any, video_id: str) -> float:
    job = json.loads((data_dir / "jobs" / f"{video_id}.json").read_text("utf-8"))
    return float(job["completed_at"])


def _child() -> None:
    config = read_config()
    warnings.simplefilter("ignore", DeprecationWarning)
    import openai

    from sora_nb import local

    length, runs, which = float(config["job_seconds"]), int(config["runs"]), config["client"]
    with tempfile.TemporaryDirectory(prefix="sora_nb-bench-req-") as tmp:
        data, cache = Path(tmp) / "server", str(Path(tmp) / "cache")
        # Render the clip once first, on a server of the same data_dir: every measured job
        # then completes when its simulated time is up, not when a slow render ends.
        with local.start(job_seconds=0, data_dir=data) as warm:
            openai.OpenAI(base_url=warm.base_url, api_key=warm.api_key).videos \
                .create_and_poll(prompt=PROMPT, seconds="4")
        _measure(length, runs, which, data, cache)


def _measure(length: float, runs: int, which: str, data: Path, cache: str) -> None:
    import openai

    import sora_nb as snb
    from sora_nb import local

    with local.start(job_seconds=length, data_dir=data) as server:
        snb.configure(backend="local", base_url=server.base_url, api_key=server.api_key,
                      cache_dir=cache)
        sdk = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        results = []
        for _ in range(runs):
            server.requests.clear()
            if which == "sdk":
                video_id = sdk.videos.create_and_poll(prompt=PROMPT, seconds="4").id
            else:
                job = snb.SoraJob(PROMPT, seconds=4, cache=False, enhance=False)
                job.wait()
                video_id = job.id
            seen = time.time()
            results.append({
                "gets": server.requests.count("GET", RETRIEVE),
                "requests": len(server.requests),
                "delay": seen - _completed_at(server.data_dir, video_id),
            })
        if length > 12:  # the same server rule as the shorter jobs: not worth another minute
            emit({"runs": results, "hint_ms": None})
            return
        # The hint just before completion, read by a probe 0.3 s before a job's end.
        probe = sdk.videos.create(prompt=PROMPT, seconds="4")
        job_file = json.loads(
            (server.data_dir / "jobs" / f"{probe.id}.json").read_text("utf-8"))
        time.sleep(max(0.0, float(job_file["created_at"]) + length - 0.3 - time.time()))
        raw = sdk.videos.with_raw_response.retrieve(probe.id)
        hint = raw.headers.get("openai-poll-after-ms")
    emit({"runs": results, "hint_ms": int(hint) if hint is not None else None})


def main() -> list[Row]:
    procs = {
        (length, which): run_child("bench_requests", {
            "client": which, "job_seconds": length, "runs": runs})
        for length, runs in LENGTHS for which in ("sora_nb", "sdk")
    }
    got: dict[tuple[float, str], dict[str, Any]] = {}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"bench_requests child {key} failed:\n{err[-3000:]}")
        got[key] = json.loads(out.strip().splitlines()[-1])
    rows = []
    for length, _ in LENGTHS:
        ours, sdk = got[(length, "sora_nb")], got[(length, "sdk")]
        g_ours = median([r["gets"] for r in ours["runs"]])
        g_sdk = median([r["gets"] for r in sdk["runs"]])
        d_ours = median([r["delay"] for r in ours["runs"]]) * 1000
        d_sdk = median([r["delay"] for r in sdk["runs"]]) * 1000
        hint = ours["hint_ms"] or got[(12.0, "sora_nb")]["hint_ms"] or 0
        rows.append(Row(
            f"GETs per {length:g} s job", f"{g_ours:g}", f"{g_sdk:g} (create_and_poll)",
            g_ours / g_sdk, "<= 1x", g_ours <= g_sdk,
            note=f"median of {len(ours['runs'])}"))
        rows.append(Row(
            f"completion delay, {length:g} s job", f"{d_ours:.0f} ms",
            f"{d_sdk:.0f} ms (create_and_poll)", d_ours / d_sdk if d_sdk > 0 else None,
            f"<= the hint before completion ({hint} ms)", d_ours <= hint,
            note=f"median of {len(ours['runs'])}"))
    return rows


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    else:
        for row in main():
            print(row.line())
