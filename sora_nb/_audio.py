"""Audio merge: replace or mix a video's soundtrack. moviepy fits and mixes the audio; one
ffmpeg call muxes it with the video stream copied untouched; results are cached by content."""

from __future__ import annotations

import hashlib
import io
import json
import math
import numbers
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from ._config import cache_dir
from ._errors import SoraAudioError, SoraMediaError, SoraParameterError
from ._ffmpeg import ffmpeg_exe, run_ffmpeg
from ._fs import atomic_path, atomic_write_text
from ._show import media_html, show_media
from ._types import AUDIO_FITS, AUDIO_MODES, AudioFit, AudioInput, AudioMode

__all__ = ["MergedVideo", "merge_audio"]

Pcm: TypeAlias = NDArray[np.float32]  # shape (n, 1 or 2), values in [-1, 1]

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac")
OUT_SUFFIXES = (".mp4", ".m4v", ".mov")
MAX_GAIN = 10.0
_ALLOWED_AUDIO = (
    "a path to a " + "/".join(s[1:] for s in AUDIO_SUFFIXES) + " file, the bytes of one, "
    "(samples, sample_rate) with samples a numpy array shaped (n,) or (n, 1|2), "
    "or a moviepy AudioClip"
)
_DECODE_RATE = 48000  # compressed audio and clips without an fps are decoded at this rate
_AAC_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000,
                        88200, 96000})
_CHUNK = 1 << 16  # samples rendered per moviepy get_frame call
_FADE_OUT = 0.005  # seconds faded out at the video's end
_CACHE_VERSION = "1"


@dataclass(frozen=True, repr=False)
class MergedVideo:
    """A video whose soundtrack ``merge_audio`` replaced or mixed. ``mode`` says what was
    done ("mix" on a video without a soundtrack is a "replace"); ``source`` is the input."""

    path: Path
    duration: float
    mode: str
    fit: str
    source: Path

    def show(self, embed: bool = False, width: int | None = None) -> None:
        """Play the merged video in the current cell (``embed=True`` inlines the bytes)."""
        show_media(self.path, "video", embed=embed, width=width)

    def _repr_html_(self) -> str:
        return media_html(self.path, "video")

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<MergedVideo {self.path.name} {self.duration:.2f}s {self.mode}/{self.fit}>"


@dataclass(frozen=True)
class _Audio:
    """Audio input, validated: a content digest (known before any decoding) and a loader."""

    digest: str
    label: str  # how error messages show the input
    load: Callable[[Path], tuple[Pcm, int]]  # temp dir -> (pcm, sample rate)


def merge_audio(
    video: str | Path,
    audio: AudioInput,
    out: str | Path | None = None,
    *,
    mode: AudioMode = "replace",
    fit: AudioFit = "trim",
    volume: float = 1.0,
    original_volume: float = 0.3,
    cache: bool = True,
) -> MergedVideo:
    """Give ``video`` a new soundtrack without re-encoding a single video frame.

    ``mode="replace"`` drops the video's own audio; ``"mix"`` keeps it under the new one at
    ``original_volume``. The new audio (scaled by ``volume``) is fitted to the video's exact
    duration: audio longer than the video is always cut at its end; shorter audio is looped
    (``fit="loop"``) or followed by silence (``"trim"``, ``"pad"``). A mix that would clip is
    scaled down as a whole instead; the last 5 ms fade out. The result is written to
    ``out``, or by default to ``cache_dir()/merged`` under a name derived from the contents
    and the settings; with ``cache=True`` an identical earlier merge is reused.
    """
    mode = _choice("mode", mode, AUDIO_MODES)
    fit = _choice("fit", fit, AUDIO_FITS)
    volume = _gain("volume", volume)
    original_volume = _gain("original_volume", original_volume)
    if not isinstance(cache, bool):
        raise SoraParameterError("cache", cache, "True or False")
    out_path = _out_path(out)
    source = _video_path(video)
    spec = _audio_spec(audio)

    cached: Path | None = None  # the cache entry: skipped for cache=False with an out
    if cache or out_path is None:
        key = hashlib.blake2b(digest_size=10)
        for part in (_CACHE_VERSION, _file_digest(source), spec.digest, mode, fit,
                     repr(volume), repr(original_volume)):
            key.update(part.encode() + b"\0")
        cached = target = _merged_dir() / f"merged-{key.hexdigest()}.mp4"
        if cache and (hit := _cache_hit(cached)) is not None:
            if out_path is not None:
                with atomic_path(out_path) as tmp:
                    shutil.copyfile(cached, tmp)
            return MergedVideo(out_path or cached, hit[0], hit[1], fit, source)
    else:
        target = out_path

    duration, original_rate, codec = _probe_video(source)
    done_mode = mode if original_rate else "replace"
    with tempfile.TemporaryDirectory(prefix="sora_nb-merge-") as tmpdir:
        pcm, rate = spec.load(Path(tmpdir))
        if len(pcm) == 0:
            raise SoraAudioError(f"audio={spec.label}: the audio has no samples")
        if done_mode == "mix" and original_rate > rate:  # keep the soundtrack's highs
            pcm, rate = _resample(pcm, rate, original_rate), original_rate
        n = max(1, round(duration * rate))
        mixed = _fit_and_mix(pcm, rate, n, fit, volume,
                             source if done_mode == "mix" else None, original_volume)
        wav = Path(tmpdir) / "audio.wav"
        _write_wav(wav, mixed, rate)
        with atomic_path(target) as tmp:
            _mux(source, codec, wav, tmp, rate)
    if cached is not None:
        atomic_write_text(_meta(cached), json.dumps({"duration": duration, "mode": done_mode}))
        if out_path is not None:
            with atomic_path(out_path) as tmp:
                shutil.copyfile(cached, tmp)
    return MergedVideo(out_path or target, duration, done_mode, fit, source)


# -- parameters -------------------------------------------------------------------------


def _choice(param: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if not isinstance(value, str) or value not in allowed:
        raise SoraParameterError(param, value, " or ".join(repr(a) for a in allowed))
    return value


def _gain(param: str, value: Any) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 <= value <= MAX_GAIN:
        raise SoraParameterError(param, value, f"a gain from 0 to {MAX_GAIN:g} "
                                 "(1.0 keeps the level, 0.5 halves it, 0 mutes)")
    return float(value)


def _out_path(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    allowed = "None or a file path ending in " + ", ".join(OUT_SUFFIXES)
    if not isinstance(out, str | Path) or not str(out):
        raise SoraParameterError("out", out, allowed)
    path = Path(out).expanduser()
    if path.suffix.lower() not in OUT_SUFFIXES or path.is_dir():
        raise SoraParameterError("out", out, allowed)
    return path


def _video_path(video: str | Path) -> Path:
    if not isinstance(video, str | Path) or not str(video):
        raise SoraParameterError("video", video, "a path to a video file")
    path = Path(video).expanduser()
    if not path.is_file():
        raise SoraMediaError(f"video={str(video)!r}: no such file")
    if path.stat().st_size == 0:
        raise SoraMediaError(f"video={str(video)!r}: the file is empty")
    return path


def _meta(cached: Path) -> Path:
    """The sidecar of a cache entry: what a cache hit returns without running ffmpeg."""
    return cached.with_suffix(".json")


def _cache_hit(cached: Path) -> tuple[float, str] | None:
    """(duration, mode) of a finished cache entry, or None."""
    try:
        done = json.loads(_meta(cached).read_text("utf-8"))
        return (float(done["duration"]), str(done["mode"])) if cached.is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _merged_dir() -> Path:
    return cache_dir() / "merged"


def _file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# -- audio inputs -----------------------------------------------------------------------


def _audio_spec(audio: Any) -> _Audio:
    """Validate ``audio`` and say how to load it; nothing is decoded here."""
    if isinstance(audio, str | Path):
        path = Path(audio).expanduser()
        if not path.is_file():
            raise SoraAudioError(f"audio={str(audio)!r}: no such file")
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            raise SoraAudioError(f"audio={str(audio)!r}: unsupported kind of file "
                                 f"{path.suffix or '(no suffix)'}; allowed: {_ALLOWED_AUDIO}")
        if path.stat().st_size == 0:
            raise SoraAudioError(f"audio={str(audio)!r}: the file is empty")
        return _Audio(_file_digest(path), repr(str(audio)), lambda tmp: _decode(path, str(audio)))
    if isinstance(audio, bytes | bytearray | memoryview):
        data = bytes(audio)
        suffix = _sniff(data)
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        label = f"<{len(data)} bytes of {suffix[1:]}>"

        def load(tmp: Path) -> tuple[Pcm, int]:
            if suffix == ".wav" and (pcm := _read_wav(data)) is not None:
                return pcm
            path = tmp / f"input{suffix}"
            path.write_bytes(data)
            return _decode(path, label)

        return _Audio(digest, label, load)
    if isinstance(audio, tuple):
        pcm, rate = _pcm_from_tuple(audio)
        return _Audio(_pcm_digest(pcm, rate), "(samples, sample_rate)", lambda tmp: (pcm, rate))
    from moviepy import AudioClip

    if isinstance(audio, AudioClip):
        pcm, rate = _pcm_from_clip(audio)
        return _Audio(_pcm_digest(pcm, rate), f"<{type(audio).__name__}>", lambda tmp: (pcm, rate))
    hint = " (pass (array, sample_rate))" if isinstance(audio, np.ndarray) else ""
    raise SoraParameterError("audio", audio, _ALLOWED_AUDIO + hint)


def _sniff(data: bytes) -> str:
    """The file suffix matching encoded audio ``data``, from its first bytes."""
    if not data:
        raise SoraAudioError(f"audio=b'': the bytes are empty; allowed: {_ALLOWED_AUDIO}")
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return ".aac"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    raise SoraAudioError(f"audio={data[:16]!r}...: these {len(data)} bytes are not a wav, mp3, "
                         f"m4a, aac, ogg or flac file; allowed: {_ALLOWED_AUDIO}")


def _decode(path: Path, label: str, rate: int | None = None, *,
            param: str = "audio") -> tuple[Pcm, int]:
    """Read the first audio stream of a file into (pcm, rate): PCM WAV with the stdlib,
    anything else with one ffmpeg pipe, at its own rate unless ``rate`` asks for another.

    Not moviepy's AudioFileClip: it runs two ffmpeg processes (about 2.5x slower here), and
    on a corrupt or audio-less file it raises KeyError then an unraisable AttributeError
    from ``FFMPEG_AudioReader.__del__``."""
    if path.suffix.lower() == ".wav" and (got := _read_wav(path)) is not None \
            and rate in (None, got[1]):
        return got
    error = SoraAudioError if param == "audio" else SoraMediaError
    resample = ["-ar", str(rate)] if rate else []
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0",
           "-af", "aformat=channel_layouts=mono|stereo", "-f", "f32le", *resample, "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    if "Duration:" not in err.split("Stream mapping:")[0]:
        raise error(f"{param}={label!r}: not a readable audio file; allowed: {_ALLOWED_AUDIO}")
    if "matches no streams" in err:
        raise error(f"{param}={label!r}: the file has no audio stream")
    found = re.search(r"Output #0.*?Audio: pcm_f32le, (\d+) Hz, (mono|stereo)", err, re.S)
    if proc.returncode != 0 or found is None:
        tail = " / ".join(err.strip().splitlines()[-2:])
        raise error(f"{param}={label!r}: the audio could not be decoded ({tail})")
    channels = 1 if found[2] == "mono" else 2
    samples = np.frombuffer(proc.stdout, dtype="<f4")
    if samples.size < channels:
        raise error(f"{param}={label!r}: the audio stream is empty")
    samples = samples[: samples.size // channels * channels].reshape(-1, channels)
    return _to_pcm(np.clip(samples, -1.0, 1.0), param), int(found[1])


def _read_wav(src: Path | bytes) -> tuple[Pcm, int] | None:
    """8/16/32-bit PCM WAV, mono or stereo, without a subprocess; None for other WAVs."""
    try:
        with wave.open(io.BytesIO(src) if isinstance(src, bytes) else str(src), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        return None  # float, 24-bit or extensible WAV: let ffmpeg read it
    if width not in (1, 2, 4) or channels not in (1, 2):
        return None
    raw = np.frombuffer(frames, dtype={1: np.uint8, 2: np.int16, 4: np.int32}[width])
    raw = raw[: len(raw) - len(raw) % channels].reshape(-1, channels)
    return _to_pcm(raw, "audio"), rate


def _pcm_from_tuple(audio: tuple[Any, ...]) -> tuple[Pcm, int]:
    allowed = "(samples, sample_rate): a numpy array shaped (n,) or (n, 1|2), int or float, " \
              "and an int rate from 8000 to 192000"
    if len(audio) != 2 or not isinstance(audio[0], np.ndarray):
        raise SoraParameterError("audio", audio, allowed)
    samples, rate = audio
    if not isinstance(rate, numbers.Integral) or isinstance(rate, bool) \
            or not 8000 <= int(rate) <= 192000:
        raise SoraParameterError("audio sample_rate", rate, "an int from 8000 to 192000")
    shape = samples.shape
    if samples.ndim == 2 and shape[0] in (1, 2) and shape[1] > 2:
        raise SoraParameterError("audio samples.shape", shape, "(n,) or (n, 1|2)",
                                 detail="this looks channels-first: pass samples.T")
    if samples.ndim not in (1, 2) or (samples.ndim == 2 and shape[1] not in (1, 2)):
        raise SoraParameterError("audio samples.shape", shape, "(n,) or (n, 1|2)")
    if shape[0] == 0:
        raise SoraAudioError(f"audio samples are empty (shape {shape}); give at least one")
    return _to_pcm(samples, "audio samples"), int(rate)


def _to_pcm(samples: NDArray[Any], param: str) -> Pcm:
    """int or float samples -> float32 (n, 1|2) in [-1, 1]. Two equal channels become one:
    mono stays mono, which halves the AAC encoding time."""
    dt = samples.dtype
    if dt.kind == "f":
        x = samples.astype(np.float32)
        if not np.isfinite(x).all():
            raise SoraParameterError(param, "NaN or inf", "finite float samples")
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > 1.001:
            raise SoraParameterError(f"{param} peak", peak, "float samples within [-1, 1]",
                                     detail="int PCM can be passed as an int array")
    elif dt in (np.int8, np.int16, np.int32):
        x = samples.astype(np.float32) / float(2 ** (8 * dt.itemsize - 1))
    elif dt == np.uint8:
        x = (samples.astype(np.float32) - 128.0) / 128.0
    else:
        raise SoraParameterError(f"{param}.dtype", str(dt),
                                 "float16/32/64, int8, int16, int32 or uint8")
    x = x[:, None] if x.ndim == 1 else x
    if x.shape[1] == 2 and np.array_equal(x[:, 0], x[:, 1]):
        x = x[:, :1]
    return np.ascontiguousarray(x)


def _pcm_from_clip(clip: Any) -> tuple[Pcm, int]:
    """Render a moviepy AudioClip to (pcm, rate) at its own fps (48 kHz if it has none)."""
    label = f"<{type(clip).__name__}>"
    fps = getattr(clip, "fps", None)
    rate = int(fps) if isinstance(fps, int | float) and 8000 <= fps <= 192000 else _DECODE_RATE
    duration = clip.duration
    if not isinstance(duration, int | float) or not duration * rate >= 1:
        raise SoraAudioError(f"audio={label}: the clip has no length (duration={duration!r}); "
                             "give it one with clip.with_duration(seconds)")
    try:
        raw = _render(clip, int(duration * rate), rate)
    except Exception as exc:
        raise SoraAudioError(f"audio={label}: the clip could not be rendered ({exc})") from None
    if not np.isfinite(raw).all():
        raise SoraAudioError(f"audio={label}: the clip has NaN or inf samples")
    return _to_pcm(np.clip(raw, -1.0, 1.0), "audio"), rate


def _pcm_digest(pcm: Pcm, rate: int) -> str:
    h = hashlib.blake2b(f"pcm:{rate}:{pcm.shape}".encode(), digest_size=16)
    h.update(pcm.tobytes())
    return h.hexdigest()


# -- fitting and mixing (moviepy) -------------------------------------------------------


def _render(clip: Any, n: int, rate: int) -> NDArray[Any]:
    """Exactly ``n`` samples of a moviepy clip at ``rate``, as an (n, channels) array."""
    parts = []
    for start in range(0, n, _CHUNK):
        tt = np.arange(start, min(n, start + _CHUNK)) / rate
        parts.append(np.asarray(clip.get_frame(tt), dtype=np.float64).reshape(len(tt), -1))
    return np.concatenate(parts)


def _fit(pcm: Pcm, rate: int, n: int, fit: AudioFit) -> Any:
    """A moviepy clip of exactly n/rate seconds: cut, looped or followed by silence."""
    from moviepy import AudioArrayClip, afx, concatenate_audioclips

    if len(pcm) >= n:
        return AudioArrayClip(pcm, fps=rate).subclipped(0, n / rate)
    if fit == "loop":
        # AudioLoop composes one clip per repeat; repeat tiny sounds up front to keep it cheap
        unit = np.tile(pcm, (max(1, math.ceil(rate / len(pcm))), 1))
        looped = AudioArrayClip(unit, fps=rate)
        return looped.with_effects([afx.AudioLoop(duration=n / rate)])
    silence = AudioArrayClip(np.zeros((n - len(pcm), pcm.shape[1]), np.float32), fps=rate)
    return concatenate_audioclips([AudioArrayClip(pcm, fps=rate), silence])


def _fit_and_mix(pcm: Pcm, rate: int, n: int, fit: AudioFit, volume: float,
                 original: Path | None, original_volume: float) -> Pcm:
    """The new soundtrack, n samples at rate: fitted, scaled, over the original if given."""
    channels = pcm.shape[1]
    fitted = _fit(pcm, rate, n, fit)
    if volume != 1.0:
        fitted = fitted.with_volume_scaled(volume)
    if original is not None:
        from moviepy import CompositeAudioClip

        orig_pcm = _decode(original, str(original), rate, param="video")[0]
        channels = max(channels, orig_pcm.shape[1])
        orig = _fit(orig_pcm, rate, n, "pad").with_volume_scaled(original_volume)
        fitted = CompositeAudioClip([orig, fitted])
    # moviepy renders array clips as two channels; a mono result keeps the first
    mixed = _render(fitted, n, rate)[:, :channels]
    fade = min(n, round(_FADE_OUT * rate))  # no click where the video cuts the sound
    mixed[n - fade :] *= np.linspace(1.0, 0.0, fade)[:, None]
    peak = float(np.abs(mixed).max())
    if peak > 1.0:  # scale the whole mix down rather than clip it: no distortion
        mixed *= 0.999 / peak
    return np.ascontiguousarray(mixed, dtype=np.float32)


def _resample(pcm: Pcm, rate: int, to: int) -> Pcm:
    """``pcm`` at ``to`` Hz, resampled by ffmpeg (moviepy would pick nearest samples)."""
    ch = pcm.shape[1]
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-f", "f32le", "-ar", str(rate),
           "-ac", str(ch), "-i", "pipe:0", "-f", "f32le", "-ar", str(to), "pipe:1"]
    proc = subprocess.run(cmd, input=pcm.tobytes(), capture_output=True, timeout=300,
                          check=False)
    if proc.returncode != 0:
        raise SoraAudioError(f"audio: resampling {rate} Hz to {to} Hz failed: "
                             f"{proc.stderr.decode('utf-8', 'replace').strip()[-200:]}")
    out = np.frombuffer(proc.stdout, dtype="<f4")
    return np.ascontiguousarray(np.clip(out[: out.size // ch * ch].reshape(-1, ch), -1, 1))


def _write_wav(path: Path, pcm: Pcm, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((pcm * 32767.0).round().astype("<i2").tobytes())


# -- the video side (ffmpeg) ------------------------------------------------------------

_TB = re.compile(r"^#tb 0: (\d+)/(\d+)", re.M)


def _probe_video(path: Path) -> tuple[float, int, str]:
    """(exact duration of the first video stream, sample rate of its audio or 0 if none,
    video codec). One ffmpeg run copying the video packets to framecrc: fast and exact."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
           "-map", "0:V:0", "-c", "copy", "-f", "framecrc", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    header = err.split("Stream mapping:")[0]
    fmt = re.search(r"Input #0, ([\w,]+)", header)
    if "Duration:" not in header or fmt is None:
        raise SoraMediaError(f"video={str(path)!r}: not a readable media file")
    if proc.returncode != 0 or fmt[1] == "image2" or fmt[1].endswith("_pipe"):
        raise SoraMediaError(f"video={str(path)!r}: has no video stream (a video file with "
                             "at least one video stream is needed, e.g. an mp4)")
    out = proc.stdout.decode("ascii", "replace")
    tb = _TB.search(out)
    ends, starts = [], []
    for line in out.splitlines():
        if line and not line.startswith("#"):
            fields = line.split(",")
            pts, dur = int(fields[2]), int(fields[3])
            starts.append(pts)
            ends.append(pts + dur)
    if tb is None or not ends:
        raise SoraMediaError(f"video={str(path)!r}: the video stream has no frames")
    duration = (max(ends) - min(starts)) * int(tb[1]) / int(tb[2])
    audio = re.search(r"Stream #0:\d+.*?: Audio: .*?(\d+) Hz", header)
    codec = re.search(r"Stream #0:\d+.*?: Video: (\w+)", header)
    return duration, int(audio[1]) if audio else 0, codec[1] if codec else "unknown"


def _mux(video: Path, codec: str, wav: Path, target: Path, rate: int) -> None:
    """Copy the video stream, encode the WAV to AAC: explicit mapping, no video re-encode.
    (``0:V:0`` is the first real video stream: cover-art pictures are skipped.)"""
    resample = [] if rate in _AAC_RATES else ["-ar", str(_DECODE_RATE)]
    try:
        run_ffmpeg(["-y", "-i", str(video), "-i", str(wav),
                    "-map", "0:V:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", *resample,
                    "-shortest", "-movflags", "+faststart", str(target)])
    except SoraMediaError as exc:
        raise SoraMediaError(f"video={str(video)!r}: its {codec} video stream could not be "
                             f"copied into a {target.suffix} file ({exc})") from None
