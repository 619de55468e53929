"""Benchmark of the local renderer: seconds of rendering per second of video (the target
is <= 0.25 for an 8 s 1280x720 clip on a 2-core machine), plus the largest size for info."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/bench_render.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_nb.local.render import RenderSpec, render

PROMPT = ("A calico cat playing a grand piano in a sunlit jazz club, cinematic lighting, "
          "slow dolly in, shallow depth of field")
TARGET = 0.25


def ratios(width: int, height: int, seconds: float, runs: int, **kw: object) -> list[float]:
    """render time / play time of ``runs`` renders (after one warm-up render)."""
    out: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench_render-") as tmp:
        for k in range(runs + 1):
            # a new prompt each run: nothing can be served from a cache
            spec = RenderSpec(f"{PROMPT} #{k}", "sora-2", width, height, seconds, **kw)  # type: ignore[arg-type]
            start = time.perf_counter()
            render(spec, Path(tmp) / str(k))
            if k:
                out.append((time.perf_counter() - start) / seconds)
    return out


def _line(name: str, values: list[float]) -> str:
    return (f"{name:<28} render/play  median {statistics.median(values):.3f}  "
            f"best {min(values):.3f}  worst {max(values):.3f}  ({len(values)} runs)")


def main(runs: int = 5) -> float:
    """Print the ratios; return the median render/play ratio of the 8 s 1280x720 clip."""
    main_ratios = ratios(1280, 720, 8, runs)
    print(_line("create 8 s 1280x720", main_ratios))
    print(_line("create 8 s 1792x1024 (info)", ratios(1792, 1024, 8, max(2, runs // 2))))
    with tempfile.TemporaryDirectory(prefix="bench_render-src-") as tmp:
        src = render(RenderSpec(PROMPT, "sora-2", 1280, 720, 4), Path(tmp)).video
        for kind, seconds in (("remix", 4.0), ("extend", 8.0)):
            values = ratios(1280, 720, seconds, max(2, runs // 2), kind=kind, source=src,
                            source_id="video_src")
            print(_line(f"{kind} {seconds:g} s 1280x720 (info)", values))
    median = statistics.median(main_ratios)
    verdict = "meets" if median <= TARGET else "MISSES"
    print(f"8 s 1280x720 median ratio {median:.3f} {verdict} the target of {TARGET}")
    return median


if __name__ == "__main__":
    main()
