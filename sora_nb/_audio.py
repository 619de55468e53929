"""Audio merge: replace or mix a video's soundtrack. moviepy fits and mixes the audio; one
ffmpeg call muxes it with the video stream copied untouched; results are cached by content.
(What audio is accepted, and its decoding to PCM, is ``_audio_input``'s.)"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import shutil
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._audio_input import DECODE_RATE, Pcm, audio_source, decode_audio, file_digest, render_clip
from ._config import cache_dir
from ._errors import SoraAudioError, SoraMediaError, SoraParameterError
from ._ffmpeg import ffmpeg, probe, run_ffmpeg
from ._fs import atomic_path, atomic_write_text
from ._ids import inside
from ._show import media_html, show_media
from ._types import AUDIO_FITS, AUDIO_MODES, AudioFit, AudioInput, AudioMode

__all__ = ["MergedVideo", "merge_audio"]

OUT_SUFFIXES = (".mp4", ".m4v", ".mov")
MAX_GAIN = 10.0
_AAC_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000,
                        88200, 96000})
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
        """The merged MP4's bytes."""
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<MergedVideo {self.path.name} {self.duration:.2f}s {self.mode}/{self.fit}>"


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
    spec = audio_source(audio)

    cached: Path | None = None  # the cache entry: skipped for cache=False with an out
    if cache or out_path is None:
        key = hashlib.blake2b(digest_size=10)
        for part in (_CACHE_VERSION, file_digest(source), spec.digest, mode, fit,
                     repr(volume), repr(original_volume)):
            key.update(part.encode() + b"\0")
        cached = target = inside(_merged_dir(), _merged_dir() / f"merged-{key.hexdigest()}.mp4")
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


# -- fitting and mixing (moviepy) -------------------------------------------------------


def _fit(pcm: Pcm, rate: int, n: int, fit: AudioFit) -> Any:
    """A moviepy clip of exactly n/rate seconds: cut, looped or followed by silence."""
    # Deferred: moviepy takes long to import; a cached merge never gets here.
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
        from moviepy import CompositeAudioClip  # deferred, as in _fit

        orig_pcm = decode_audio(original, str(original), rate, param="video")[0]
        channels = max(channels, orig_pcm.shape[1])
        orig = _fit(orig_pcm, rate, n, "pad").with_volume_scaled(original_volume)
        fitted = CompositeAudioClip([orig, fitted])
    # moviepy renders array clips as two channels; a mono result keeps the first
    mixed = render_clip(fitted, n, rate)[:, :channels]
    fade = min(n, round(_FADE_OUT * rate))  # no click where the video cuts the sound
    mixed[n - fade :] *= np.linspace(1.0, 0.0, fade)[:, None]
    peak = float(np.abs(mixed).max())
    if peak > 1.0:  # scale the whole mix down rather than clip it: no distortion
        mixed *= 0.999 / peak
    return np.ascontiguousarray(mixed, dtype=np.float32)


def _resample(pcm: Pcm, rate: int, to: int) -> Pcm:
    """``pcm`` at ``to`` Hz, resampled by ffmpeg (moviepy would pick nearest samples)."""
    ch = pcm.shape[1]
    run = ffmpeg(["-v", "error", "-f", "f32le", "-ar", str(rate), "-ac", str(ch), "-i", "pipe:0",
                  "-f", "f32le", "-ar", str(to), "pipe:1"], input=pcm.tobytes())
    if run.returncode != 0:
        raise SoraAudioError(f"audio: resampling {rate} Hz to {to} Hz failed: "
                             f"{run.stderr.strip()[-200:]}")
    out = np.frombuffer(run.stdout, dtype="<f4")
    return np.ascontiguousarray(np.clip(out[: out.size // ch * ch].reshape(-1, ch), -1, 1))


def _write_wav(path: Path, pcm: Pcm, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((pcm * 32767.0).round().astype("<i2").tobytes())


# -- the video side (ffmpeg) ------------------------------------------------------------

def _probe_video(path: Path) -> tuple[float, int, str]:
    """(exact duration of the first real video stream, sample rate of the audio or 0 if
    none, video codec), from one ``probe(exact=True)``: packet copy to framecrc, no decode."""
    try:
        info = probe(path, exact=True)
    except SoraMediaError:
        raise SoraMediaError(f"video={str(path)!r}: not a readable media file") from None
    container = info.container or ""
    if info.video_packets is None or container == "image2" or container.endswith("_pipe"):
        raise SoraMediaError(f"video={str(path)!r}: has no video stream (a video file with "
                             "at least one video stream is needed, e.g. an mp4)")
    if info.exact_duration is None:
        raise SoraMediaError(f"video={str(path)!r}: the video stream has no frames")
    return info.exact_duration, info.sample_rate or 0, info.video_codec or "unknown"


def _mux(video: Path, codec: str, wav: Path, target: Path, rate: int) -> None:
    """Copy the video stream, encode the WAV to AAC: explicit mapping, no video re-encode.
    (``0:V:0`` is the first real video stream: cover-art pictures are skipped.)"""
    resample = [] if rate in _AAC_RATES else ["-ar", str(DECODE_RATE)]
    try:
        run_ffmpeg(["-y", "-i", str(video), "-i", str(wav),
                    "-map", "0:V:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", *resample,
                    "-shortest", "-movflags", "+faststart", str(target)])
    except SoraMediaError as exc:
        raise SoraMediaError(f"video={str(video)!r}: its {codec} video stream could not be "
                             f"copied into a {target.suffix} file ({exc})") from None
