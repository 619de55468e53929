"""The ffmpeg binary (from imageio-ffmpeg, a moviepy dependency) and ``probe()``, which
reads a media file's streams and, on request, decodes it to count real frames."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ._errors import SoraMediaError

__all__ = ["MediaInfo", "ffmpeg_exe", "probe", "run_ffmpeg"]


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg executable shipped by imageio-ffmpeg."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(args: list[str], *, input: bytes | None = None, timeout: float = 300) -> str:
    """Run ffmpeg with ``args`` (no binary name); return its stderr; raise on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-4:])
        raise SoraMediaError(f"ffmpeg failed (exit {proc.returncode}): {tail}")
    return err


@dataclass(frozen=True)
class MediaInfo:
    """What ``probe`` found in a media file. Durations are in seconds."""

    duration: float
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    pix_fmt: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    frames: int | None = None
    decoded_duration: float | None = None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def size(self) -> str | None:
        return f"{self.width}x{self.height}" if self.width and self.height else None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+)[^,]*, (\w+)[^,]*?(?:\([^)]*\))?, (\d+)x(\d+)")
_FPS = re.compile(r"Stream #0:\d+.*?: Video: .*?, ([\d.]+) fps")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)[^,]*, (\d+) Hz, ([^,]+)")
_FRAMES = re.compile(r"frame=\s*(\d+)")
_TIME = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")
_CHANNELS = {"mono": 1, "stereo": 2}


def probe(path: str | Path, *, decode: bool = False) -> MediaInfo:
    """Read the streams of ``path``. With ``decode=True`` every frame is decoded, which
    proves the file is playable and gives the real frame count and decoded duration."""
    path = Path(path)
    if not path.is_file():
        raise SoraMediaError(f"no media file at {path}")
    args = ["-i", str(path)]
    args += ["-map", "0", "-f", "null", "-"] if decode else []
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    header = err.split("Stream mapping:")[0]
    m = _DURATION.search(header)
    if m is None:
        raise SoraMediaError(f"{path.name} is not a readable media file: {err.strip()[-200:]}")
    if decode and proc.returncode != 0:
        raise SoraMediaError(f"{path.name} does not decode: {err.strip()[-200:]}")
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    info: dict[str, object] = {"duration": duration}
    if v := _VIDEO.search(header):
        info.update(video_codec=v[1], pix_fmt=v[2], width=int(v[3]), height=int(v[4]))
        if f := _FPS.search(header):
            info["fps"] = float(f[1])
    if a := _AUDIO.search(header):
        layout = a[3].strip()
        channels = _CHANNELS.get(layout)
        if channels is None and (n := re.match(r"(\d+)", layout)):
            channels = int(n[1])
        info.update(audio_codec=a[1], sample_rate=int(a[2]), channels=channels)
    if decode:
        tail = err.split("Stream mapping:")[-1]
        frames = _FRAMES.findall(tail)
        times = _TIME.findall(tail)
        if frames and info.get("video_codec"):
            info["frames"] = int(frames[-1])
        if times:
            h, mi, s = times[-1]
            info["decoded_duration"] = int(h) * 3600 + int(mi) * 60 + float(s)
    return MediaInfo(**info)  # type: ignore[arg-type]
