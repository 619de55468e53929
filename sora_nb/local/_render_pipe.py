"""The renderer's ffmpeg pipes: ``decode`` streams a video's frames out as raw yuv420p,
and ``encode`` streams them in and writes H.264 + AAC MP4, byte-for-byte reproducibly."""

from __future__ import annotations

import contextlib
import io
import subprocess
import tempfile
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import IO, cast

try:
    import fcntl
except ImportError:  # Windows: pipes keep their default size
    fcntl = None  # type: ignore[assignment]

from .._errors import SoraMediaError
from .._ffmpeg import ffmpeg_exe
from ._render_yuv import Canvas

__all__ = ["decode", "encode"]

# Everything that could differ between two runs of the same input is switched off.
_BITEXACT = ["-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
             "-flags:v", "+bitexact", "-flags:a", "+bitexact"]

_BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
          "-color_range", "tv"]

#: Pipe buffer for raw frames (a 1280x720 yuv420p frame is 1.4 MB). Linux's default 64 kB
#: made each frame ~21 handovers between this process and ffmpeg (2,000 context switches
#: for a 4 s clip; ~110 with 1 MiB), and on a busy machine every handover waits for a CPU.
#: 1 MiB is what an unprivileged process may ask for (/proc/sys/fs/pipe-max-size).
PIPE_BYTES = 1 << 20


def _widen(pipe: IO[bytes]) -> None:
    """Enlarge ``pipe``'s kernel buffer to ``PIPE_BYTES`` where the OS allows (Linux)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is not None:
        with contextlib.suppress(OSError):  # a lower pipe-max-size: keep the default
            fcntl.fcntl(pipe.fileno(), setsize, PIPE_BYTES)


def decode(path: Path, size: tuple[int, int], fps: int, restyle: str = "", *,
           loop: bool = False) -> Generator[Canvas, None, None]:
    """Frames of ``path`` at ``size`` (letterboxed when the aspect differs) and ``fps``,
    through the ffmpeg filter chain ``restyle``; endless when ``loop``. Two canvases take
    turns, so a yielded frame stays intact until the one after next is read. Close the
    iterator to stop early (that stops ffmpeg)."""
    w, h = size
    vf = (f"scale={w}:{h}:force_original_aspect_ratio=decrease:flags=bicubic:out_range=tv,"
          f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,fps={fps},setsar=1")
    if restyle:
        vf += "," + restyle
    vf += ",format=yuv420p"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
           *(["-stream_loop", "-1"] if loop else []), "-i", str(path),
           "-map", "0:v:0", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]
    # stderr goes to a file: a corrupt source can log more than a pipe holds
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
        assert proc.stdout is not None
        _widen(proc.stdout)
        stream = cast(io.BufferedReader, proc.stdout)
        canvases = (Canvas(w, h), Canvas(w, h))
        count = 0
        try:
            while True:
                frame = canvases[count % 2]
                view, got = frame.buf.data, 0
                while got < len(view):
                    n = stream.readinto(view[got:])
                    if not n:
                        break
                    got += n
                if got < len(view):
                    break
                count += 1
                yield frame
            if proc.wait() != 0 or count == 0:
                log.seek(0)
                err = log.read().decode("utf-8", "replace").strip()
                raise SoraMediaError(
                    f"could not decode the video {path.name} ({count} frames): {err[-300:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


def encode(frames: Iterable[Canvas], *, size: tuple[int, int], fps: int, audio: Path,
           out: Path, log: Path, each: Callable[[int, Canvas], None] | None = None) -> int:
    """Encode yuv420p ``frames`` and the WAV ``audio`` into the MP4 ``out`` (H.264 yuv420p
    BT.709, AAC, +faststart, bit-exact). ``each(i, frame)`` sees every frame before it is
    sent. Returns the number of frames written; raises SoraMediaError if ffmpeg fails."""
    w, h = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
           # the frames are BT.709 limited range already: say so on the input, or ffmpeg
           # "converts" them again to match the output tags
           "-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{w}x{h}", *_BT709,
           "-framerate", str(fps), "-i", "pipe:0", "-i", str(audio),
           "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", str(2 * fps),
           *_BT709, "-c:a", "aac", "-b:a", "128k",
           "-movflags", "+faststart", *_BITEXACT, str(out)]
    written = 0
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
        assert proc.stdin is not None
        _widen(proc.stdin)
        try:
            for i, frame in enumerate(frames):
                if each is not None:
                    each(i, frame)
                proc.stdin.write(frame.buf.data)
                written += 1
            proc.stdin.close()
            code = proc.wait()
        except BrokenPipeError:
            code = proc.wait()
        finally:
            if proc.poll() is None:  # an error while producing frames: stop ffmpeg
                proc.kill()
                proc.wait()
            if not proc.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
    if code != 0:
        tail = log.read_text("utf-8", "replace").strip()[-400:]
        raise SoraMediaError(f"ffmpeg could not encode the video (exit {code}): {tail}")
    return written
