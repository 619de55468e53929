"""Download of a >= 12 MB asset: sora_nb's streamed ``job.download()`` against a raw
``httpx.stream`` of the same URL (throughput), and peak RSS growth against the SDK's
whole-body ``download_content().content``. Each download runs in a fresh process (its own
peak RSS) with a fresh cache folder; three rounds, interleaved, medians.

The asset: the embedded server renders a 12 s 1792x1024 ``sora-2-pro`` job, whose MP4 is
only ~2 MB (flat synthetic scenes compress well), so the benchmark then replaces that file
in the server's ``data_dir`` with a prepared 12 s 1792x1024 H.264 file of ~16 MB (ffmpeg
``testsrc2`` + noise at 11 Mbit/s) and downloads that: a prepared file, served by the
server's own content route."""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks._harness import Row, child, emit, median, proc_status, read_config

PROMPT = "Benchmark: a long wide clip for the download benchmark, rain on neon streets"
ROUNDS = 3
MIN_BYTES = 12_000_000


def _child() -> None:
    config = read_config()
    warnings.simplefilter("ignore", DeprecationWarning)
    import httpx
    import openai

    import sora_nb as snb

    with tempfile.TemporaryDirectory(prefix="sora_nb-bench-dl-") as tmp:
        snb.configure(backend="local", base_url=config["base_url"], api_key=config["key"],
                      cache_dir=str(Path(tmp) / "cache"))
        which = config["client"]
        before = proc_status("VmHWM")
        began = time.perf_counter()
        if which == "sora_nb":
            job = snb.SoraJob(PROMPT, model="sora-2-pro", size="1792x1024", seconds=12,
                              cache=False, enhance=False).wait()
            before = proc_status("VmHWM")
            began = time.perf_counter()
            size = job.download().stat().st_size
        elif which == "httpx":
            url = f"{config['base_url']}/videos/{config['video_id']}/content"
            with httpx.stream("GET", url, headers={"Authorization": f"Bearer {config['key']}"}
                              ) as response, open(Path(tmp) / "v.mp4", "wb") as fh:
                response.raise_for_status()
                for chunk in response.iter_bytes(1 << 16):
                    fh.write(chunk)
            size = (Path(tmp) / "v.mp4").stat().st_size
        else:
            client = openai.OpenAI(base_url=config["base_url"], api_key=config["key"])
            size = len(client.videos.download_content(config["video_id"]).content)
        seconds = time.perf_counter() - began
        grew = (proc_status("VmHWM") - before) * 1024
    emit({"seconds": seconds, "bytes": size, "rss_growth": grew})


def _replace_with_big_file(data_dir: Path, video_id: str) -> None:
    """Swap the job's rendered MP4 (under ``renders/<key>/`` as its job file says) for a
    prepared ~16 MB one, atomically."""
    import json
    import os

    from sora_nb._ffmpeg import run_ffmpeg

    job = json.loads((data_dir / "jobs" / f"{video_id}.json").read_text("utf-8"))
    folder = data_dir / "renders" / job["render_key"]
    target = folder / json.loads((folder / "result.json").read_text("utf-8"))["video"]
    tmp = folder / ".big.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i",
                "testsrc2=size=1792x1024:rate=24:duration=12,noise=alls=12:allf=t",
                "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "11M", "-maxrate", "11M",
                "-bufsize", "22M", "-pix_fmt", "yuv420p", str(tmp)])
    os.replace(tmp, target)


def main() -> list[Row]:
    import openai

    from sora_nb import local

    warnings.simplefilter("ignore", DeprecationWarning)
    runs: dict[str, list[dict[str, float]]] = {"sora_nb": [], "httpx": [], "sdk": []}
    with local.start(job_seconds=0) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        video = client.videos.create_and_poll(prompt=PROMPT, model="sora-2-pro",
                                              size="1792x1024", seconds="12")
        _replace_with_big_file(server.data_dir, video.id)
        config = {"base_url": server.base_url, "key": server.api_key, "video_id": video.id}
        for _ in range(ROUNDS):
            for which in runs:
                runs[which].append(child("bench_download", {**config, "client": which}))
    size = runs["httpx"][0]["bytes"]
    mb = size / 1e6

    def rate(which: str) -> float:
        return median([r["bytes"] / r["seconds"] for r in runs[which]]) / 1e6

    ours, raw = rate("sora_nb"), rate("httpx")
    g_ours = median([r["rss_growth"] for r in runs["sora_nb"]]) / 1e6
    g_sdk = median([r["rss_growth"] for r in runs["sdk"]]) / 1e6
    big = size >= MIN_BYTES
    note = f"{mb:.1f} MB prepared 1792x1024 MP4 served by the embedded server, median of {ROUNDS}"
    return [
        Row("download throughput", f"{ours:.0f} MB/s", f"{raw:.0f} MB/s (raw httpx stream)",
            ours / raw, ">= 0.9x, asset >= 12 MB", ours / raw >= 0.9 and big, note=note),
        Row("download peak RSS growth", f"{g_ours:.1f} MB",
            f"{g_sdk:.1f} MB (SDK download_content().content)",
            g_ours / g_sdk if g_sdk > 0 else None, "< 0.5x the file size (streamed)",
            g_ours < 0.5 * mb, note=note),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    else:
        for row in main():
            print(row.line())
