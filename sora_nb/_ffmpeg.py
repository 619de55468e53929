"""ffmpeg for the whole client: the binary (from imageio-ffmpeg, a moviepy dependency), the
one runner every call goes through (``ffmpeg``/``run_ffmpeg``) and the one ``probe()``.

``probe`` reads a media file's streams; ``decode=True`` also decodes it to count real
frames, ``exact=True`` copies the first video stream's packets to get its exact length.
(``sora_nb.local``'s renderer streams frames through ffmpeg pipes of its own: a
run-to-completion runner cannot feed a pipe while it renders.)"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ._errors import SoraMediaError

__all__ = ["FfmpegRun", "MediaInfo", "ffmpeg", "ffmpeg_exe", "probe", "run_ffmpeg"]


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg executable shipped by imageio-ffmpeg."""
    import imageio_ffmpeg  # deferred: looked up once, when ffmpeg first runs

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class FfmpegRun:
    """How one ffmpeg run ended: exit code, raw stdout, stderr as text."""

    returncode: int
    stdout: bytes
    stderr: str


def ffmpeg(args: list[str], *, input: bytes | None = None, timeout: float = 300) -> FfmpegRun:
    """Run ffmpeg with ``args`` (no binary name), never reading stdin but ``input``, and
    return how it ended without judging it (callers read ffmpeg's stderr for the reason)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, check=False)
    return FfmpegRun(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


def run_ffmpeg(args: list[str], *, input: bytes | None = None, timeout: float = 300) -> str:
    """Run ffmpeg with ``args`` (no binary name); return its stderr; raise on failure."""
    run = ffmpeg(args, input=input, timeout=timeout)
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-4:])
        raise SoraMediaError(f"ffmpeg failed (exit {run.returncode}): {tail}")
    return run.stderr


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
    #: The demuxer ffmpeg chose (``mov,mp4,m4a,3gp,3g2,mj2``, ``image2``, ...).
    container: str | None = None
    #: With ``exact=True``: packets of the first real video stream (``None``: none could
    #: be read, e.g. only cover art) and their exact span in seconds.
    video_packets: int | None = None
    exact_duration: float | None = None

    @property
    def has_video(self) -> bool:
        """True when the file has a video stream."""
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        """True when the file has an audio stream."""
        return self.audio_codec is not None

    @property
    def size(self) -> str | None:
        """``"WIDTHxHEIGHT"`` of the video stream, if there is one."""
        return f"{self.width}x{self.height}" if self.width and self.height else None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+)[^,]*, (\w+)[^,]*?(?:\([^)]*\))?, (\d+)x(\d+)")
_FPS = re.compile(r"Stream #0:\d+.*?: Video: .*?, ([\d.]+) fps")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)[^,]*, (\d+) Hz, ([^,]+)")
_FRAMES = re.compile(r"frame=\s*(\d+)")
_TIME = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")
_CODEC = re.compile(r"Stream #0:\d+.*?: Video: (\w+)")
_CONTAINER = re.compile(r"Input #0, ([\w,]+)")
_TB = re.compile(r"^#tb 0: (\d+)/(\d+)", re.M)
_CHANNELS = {"mono": 1, "stereo": 2}


def probe(path: str | Path, *, decode: bool = False, exact: bool = False) -> MediaInfo:
    """Read the streams of ``path``. With ``decode=True`` every frame is decoded, which
    proves the file is playable and gives the real frame count and decoded duration. With
    ``exact=True`` the first real video stream (``0:V:0``: cover art is skipped) is copied
    to framecrc, which gives its exact duration from packet timestamps (fast: no decode)."""
    if decode and exact:
        raise ValueError("probe(): pass decode=True or exact=True, not both")
    path = Path(path)
    if not path.is_file():
        raise SoraMediaError(f"no media file at {path}")
    args = ["-i", str(path)]
    if decode:
        args += ["-map", "0", "-f", "null", "-"]
    elif exact:
        args += ["-map", "0:V:0", "-c", "copy", "-f", "framecrc", "-"]
    run = ffmpeg(args)
    err = run.stderr
    header = err.split("Stream mapping:")[0]
    m = _DURATION.search(header)
    # exact=True also reads inputs without a container duration (a still image, a pipe):
    # ``duration`` is then 0.0 and the caller judges them by ``container``.
    if m is None and not (exact and "Duration: N/A" in header):
        raise SoraMediaError(f"{path.name} is not a readable media file: {err.strip()[-200:]}")
    if decode and run.returncode != 0:
        raise SoraMediaError(f"{path.name} does not decode: {err.strip()[-200:]}")
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m is not None else 0.0
    container = _CONTAINER.search(header)
    info: dict[str, object] = {"duration": duration, "container": container and container[1]}
    if v := _VIDEO.search(header):
        info.update(video_codec=v[1], pix_fmt=v[2], width=int(v[3]), height=int(v[4]))
        if f := _FPS.search(header):
            info["fps"] = float(f[1])
    elif c := _CODEC.search(header):
        info["video_codec"] = c[1]
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
    if exact and run.returncode == 0:
        info.update(_packet_span(run.stdout.decode("ascii", "replace")))
    return MediaInfo(**info)  # type: ignore[arg-type]


def _packet_span(framecrc: str) -> dict[str, object]:
    """Packet count and exact span (first pts to last pts + duration) of framecrc output."""
    tb = _TB.search(framecrc)
    starts, ends = [], []
    for line in framecrc.splitlines():
        if line and not line.startswith("#"):
            fields = line.split(",")
            pts, dur = int(fields[2]), int(fields[3])
            starts.append(pts)
            ends.append(pts + dur)
    if tb is None or not ends:
        return {"video_packets": 0}
    span = (max(ends) - min(starts)) * int(tb[1]) / int(tb[2])
    return {"video_packets": len(ends), "exact_duration": span}
