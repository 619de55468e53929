"""Benchmark of merge_audio against its baselines, measured in the same run on the same files:
(a) a plain ffmpeg stream-copy command, (c) moviepy's naive with_audio + write_videofile.

Targets: merge_audio(cache=False) costs at most 2x plain ffmpeg (b/a <= 2) and is at least
15x faster than the naive moviepy path (c/b >= 15). Run: ``python benchmarks/bench_merge.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks._harness import Row
from sora_nb._audio import merge_audio
from sora_nb._ffmpeg import run_ffmpeg

VIDEO_SECONDS = 8
NARRATION_SECONDS = 9.0  # a little longer than the video: every path encodes 8 s of audio
NARRATION_RATE = 44100


def make_inputs(folder: Path) -> tuple[Path, Path]:
    """An 8 s 1280x720 24 fps H.264 video with a stereo AAC track (like Sora's), at a
    realistic bitrate (moving test pattern + noise), and a mono 16-bit WAV narration."""
    video = folder / "v.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i",
                f"testsrc2=size=1280x720:rate=24:duration={VIDEO_SECONDS},noise=alls=5:allf=t",
                "-f", "lavfi", "-i",
                f"aevalsrc=0.3*sin(2*PI*440*t)|0.3*sin(2*PI*660*t):s=48000:d={VIDEO_SECONDS}",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", str(video)])
    t = np.arange(round(NARRATION_SECONDS * NARRATION_RATE)) / NARRATION_RATE
    voice = 0.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    audio = folder / "narration.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(NARRATION_RATE)
        w.writeframes(np.round(voice * 32767).astype("<i2").tobytes())
    return video, audio


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sora_nb-bench-") as tmp:
        folder = Path(tmp)
        video, audio = make_inputs(folder)
        mb = video.stat().st_size / 1e6

        def plain() -> None:
            run_ffmpeg(["-y", "-i", str(video), "-i", str(audio), "-map", "0:v", "-map", "1:a",
                        "-c:v", "copy", "-c:a", "aac", "-shortest", str(folder / "a.mp4")])

        def ours() -> None:
            merge_audio(video, audio, folder / "b.mp4", cache=False)

        def naive() -> None:
            from moviepy import AudioFileClip, VideoFileClip

            clip, sound = VideoFileClip(str(video)), AudioFileClip(str(audio))
            try:
                clip.with_audio(sound).write_videofile(str(folder / "c.mp4"), logger=None)
            finally:
                sound.close()
                clip.close()

        ours()  # warm-up: imports moviepy and numpy paths once, outside the timings
        a = best_of(5, plain)
        b = best_of(5, ours)
        c = best_of(2, naive)
    results = {"plain_ffmpeg_s": a, "merge_audio_s": b, "moviepy_naive_s": c,
               "b_over_a": b / a, "c_over_b": c / b}
    print(f"input: {VIDEO_SECONDS} s 1280x720 h264 ({mb:.1f} MB) + {NARRATION_SECONDS:g} s mono "
          f"{NARRATION_RATE} Hz wav narration")
    print(f"(a) plain ffmpeg stream copy   {a:7.3f} s   (best of 5)")
    print(f"(b) merge_audio(cache=False)   {b:7.3f} s   (best of 5)")
    print(f"(c) moviepy naive re-encode    {c:7.3f} s   (best of 2)")
    print(f"b/a = {b / a:5.2f}x (target <= 2x): {'ok' if b / a <= 2 else 'MISSED'}")
    print(f"c/b = {c / b:5.1f}x (target >= 15x): {'ok' if c / b >= 15 else 'MISSED'}")
    return results


if __name__ == "__main__":
    main()


def rows() -> list[Row]:
    """The two merge figures as harness rows."""
    r = main()
    return [
        Row("merge_audio vs plain ffmpeg stream copy", f"{r['merge_audio_s']:.3f} s",
            f"{r['plain_ffmpeg_s']:.3f} s (ffmpeg -c:v copy -c:a aac)", r["b_over_a"],
            "<= 2x", r["b_over_a"] <= 2, note="best of 5"),
        Row("moviepy naive re-encode vs merge_audio", f"{r['merge_audio_s']:.3f} s",
            f"{r['moviepy_naive_s']:.3f} s (moviepy write_videofile)", r["c_over_b"],
            ">= 15x slower", r["c_over_b"] >= 15, note="ratio = moviepy / merge_audio"),
    ]
