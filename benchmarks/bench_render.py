"""The local renderer's real-time factor (render seconds per second of video) per size and
length, against an ffmpeg ``testsrc2`` ultrafast H.264 encode of the same size, length and
frame rate (the same ffmpeg, imageio-ffmpeg's), in the same run. The renderer also draws
its scene and encodes an AAC soundtrack; the ffmpeg baseline only encodes a test pattern.

The factor is wall time, so on a shared machine it says as much about the neighbours as
about the renderer: each row also gives the CPU seconds spent per second of video (this
process and its ffmpeg children; for the baseline, ffmpeg), which the load barely moves,
and the load average when it ran."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._harness import Row, median

PROMPT = ("A calico cat playing a grand piano in a sunlit jazz club, cinematic lighting, "
          "slow dolly in, shallow depth of field")
SIZES = ((1280, 720), (720, 1280), (1792, 1024))
LENGTHS = (4, 12)
FPS = 24
#: README's target, for 1280x720; the other sizes are shown for information.
TARGET = 0.25


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (ffmpeg)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _render(width: int, height: int, seconds: int, folder: Path, k: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one render."""
    from sora_nb.local.render import RenderSpec, render

    # a new prompt each run: nothing can come from a cache
    spec = RenderSpec(f"{PROMPT} #{k}", "sora-2", width, height, float(seconds), fps=FPS)
    cpu, began = _cpu(), time.perf_counter()
    render(spec, folder / f"r{k}")
    return time.perf_counter() - began, _cpu() - cpu


def _ffmpeg(width: int, height: int, seconds: int, folder: Path) -> tuple[float, float]:
    from imageio_ffmpeg import get_ffmpeg_exe

    cmd = [get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f",
           "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}:duration={seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           str(folder / "ff.mp4")]
    cpu, began = _cpu(), time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - began, _cpu() - cpu


def main() -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="sora_nb-bench-render-") as tmp:
        folder = Path(tmp)
        _render(1280, 720, 4, folder, 0)  # warm-up: imports, font, ffmpeg in the page cache
        k = 1
        for seconds in LENGTHS:
            runs = 1
            for width, height in SIZES:
                ours, base, ours_cpu, base_cpu = [], [], [], []
                for _ in range(runs):
                    wall, cpu = _render(width, height, seconds, folder, k)
                    ours.append(wall / seconds)
                    ours_cpu.append(cpu / seconds)
                    wall, cpu = _ffmpeg(width, height, seconds, folder)
                    base.append(wall / seconds)
                    base_cpu.append(cpu / seconds)
                    k += 1
                a, b = median(ours), median(base)
                main_size = (width, height) == (1280, 720)
                rows.append(Row(
                    f"render {width}x{height} {seconds} s, real-time factor",
                    f"{a:.3f} (CPU {median(ours_cpu):.3f} s per s)",
                    f"{b:.3f} (CPU {median(base_cpu):.3f} s per s; ffmpeg testsrc2 ultrafast)",
                    a / b, f"<= {TARGET}" if main_size else "-",
                    a <= TARGET if main_size else None,
                    note=f"median of {runs}; load {os.getloadavg()[0]:.1f}"))
    return rows


if __name__ == "__main__":
    for row in main():
        print(row.line())
