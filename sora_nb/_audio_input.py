"""Audio inputs for the merge: validate what ``merge_audio`` accepts (a file, its bytes,
``(samples, rate)``, a moviepy clip) and turn it into float32 PCM, decoding with ffmpeg."""

from __future__ import annotations

import hashlib
import io
import numbers
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from ._errors import SoraAudioError, SoraMediaError, SoraParameterError
from ._ffmpeg import ffmpeg

__all__ = [
    "ALLOWED_AUDIO",
    "AUDIO_SUFFIXES",
    "DECODE_RATE",
    "AudioSource",
    "Pcm",
    "audio_source",
    "decode_audio",
    "file_digest",
    "render_clip",
]

Pcm: TypeAlias = NDArray[np.float32]  # shape (n, 1 or 2), values in [-1, 1]

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac")
ALLOWED_AUDIO = (
    "a path to a " + "/".join(s[1:] for s in AUDIO_SUFFIXES) + " file, the bytes of one, "
    "(samples, sample_rate) with samples a numpy array shaped (n,) or (n, 1|2), "
    "or a moviepy AudioClip"
)
DECODE_RATE = 48000  # compressed audio and clips without an fps are decoded at this rate
_CHUNK = 1 << 16  # samples rendered per moviepy get_frame call


@dataclass(frozen=True)
class AudioSource:
    """Audio input, validated: a content digest (known before any decoding) and a loader."""

    digest: str
    label: str  # how error messages show the input
    load: Callable[[Path], tuple[Pcm, int]]  # temp dir -> (pcm, sample rate)


def file_digest(path: Path) -> str:
    """A content digest of a file (blake2b, read in 1 MiB chunks): part of cache keys."""
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def audio_source(audio: Any) -> AudioSource:
    """Validate ``audio`` and say how to load it; nothing is decoded here."""
    if isinstance(audio, str | Path):
        path = Path(audio).expanduser()
        if not path.is_file():
            raise SoraAudioError(f"audio={str(audio)!r}: no such file")
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            raise SoraAudioError(f"audio={str(audio)!r}: unsupported kind of file "
                                 f"{path.suffix or '(no suffix)'}; allowed: {ALLOWED_AUDIO}")
        if path.stat().st_size == 0:
            raise SoraAudioError(f"audio={str(audio)!r}: the file is empty")
        return AudioSource(file_digest(path), repr(str(audio)),
                           lambda tmp: decode_audio(path, str(audio)))
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
            return decode_audio(path, label)

        return AudioSource(digest, label, load)
    if isinstance(audio, tuple):
        pcm, rate = _pcm_from_tuple(audio)
        return AudioSource(_pcm_digest(pcm, rate), "(samples, sample_rate)",
                           lambda tmp: (pcm, rate))
    # Deferred: moviepy takes long to import, and only a clip input needs it this early.
    from moviepy import AudioClip

    if isinstance(audio, AudioClip):
        pcm, rate = _pcm_from_clip(audio)
        return AudioSource(_pcm_digest(pcm, rate), f"<{type(audio).__name__}>",
                           lambda tmp: (pcm, rate))
    hint = " (pass (array, sample_rate))" if isinstance(audio, np.ndarray) else ""
    raise SoraParameterError("audio", audio, ALLOWED_AUDIO + hint)


def _sniff(data: bytes) -> str:
    """The file suffix matching encoded audio ``data``, from its first bytes."""
    if not data:
        raise SoraAudioError(f"audio=b'': the bytes are empty; allowed: {ALLOWED_AUDIO}")
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
                         f"m4a, aac, ogg or flac file; allowed: {ALLOWED_AUDIO}")


def decode_audio(path: Path, label: str, rate: int | None = None, *,
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
    run = ffmpeg(["-i", str(path), "-map", "0:a:0", "-af", "aformat=channel_layouts=mono|stereo",
                  "-f", "f32le", *resample, "-"])
    err = run.stderr
    if "Duration:" not in err.split("Stream mapping:")[0]:
        raise error(f"{param}={label!r}: not a readable audio file; allowed: {ALLOWED_AUDIO}")
    if "matches no streams" in err:
        raise error(f"{param}={label!r}: the file has no audio stream")
    found = re.search(r"Output #0.*?Audio: pcm_f32le, (\d+) Hz, (mono|stereo)", err, re.S)
    if run.returncode != 0 or found is None:
        tail = " / ".join(err.strip().splitlines()[-2:])
        raise error(f"{param}={label!r}: the audio could not be decoded ({tail})")
    channels = 1 if found[2] == "mono" else 2
    samples = np.frombuffer(run.stdout, dtype="<f4")
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
    rate = int(fps) if isinstance(fps, int | float) and 8000 <= fps <= 192000 else DECODE_RATE
    duration = clip.duration
    if not isinstance(duration, int | float) or not duration * rate >= 1:
        raise SoraAudioError(f"audio={label}: the clip has no length (duration={duration!r}); "
                             "give it one with clip.with_duration(seconds)")
    try:
        raw = render_clip(clip, int(duration * rate), rate)
    except Exception as exc:
        raise SoraAudioError(f"audio={label}: the clip could not be rendered ({exc})") from None
    if not np.isfinite(raw).all():
        raise SoraAudioError(f"audio={label}: the clip has NaN or inf samples")
    return _to_pcm(np.clip(raw, -1.0, 1.0), "audio"), rate


def _pcm_digest(pcm: Pcm, rate: int) -> str:
    h = hashlib.blake2b(f"pcm:{rate}:{pcm.shape}".encode(), digest_size=16)
    h.update(pcm.tobytes())
    return h.hexdigest()



def render_clip(clip: Any, n: int, rate: int) -> NDArray[Any]:
    """Exactly ``n`` samples of a moviepy clip at ``rate``, as an (n, channels) array."""
    parts = []
    for start in range(0, n, _CHUNK):
        tt = np.arange(start, min(n, start + _CHUNK)) / rate
        parts.append(np.asarray(clip.get_frame(tt), dtype=np.float64).reshape(len(tt), -1))
    return np.concatenate(parts)


