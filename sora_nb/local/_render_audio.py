"""The renderer's soundtrack: a gentle chord progression with a plucked arpeggio, derived
from the prompt (deterministic), plus reading a source video's audio and writing WAV."""

from __future__ import annotations

import hashlib
import math
import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .._errors import SoraMediaError
from .._ffmpeg import ffmpeg

__all__ = ["SAMPLE_RATE", "Audio", "fit", "read_audio", "soundtrack", "write_wav"]

SAMPLE_RATE = 48_000
Audio = NDArray[np.float32]  # shape (samples, 2), values in [-1, 1]

# Progressions as scale degrees (0 = tonic); each chord is a triad stacked on the degree.
_PROGRESSIONS = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 5), (0, 3, 4, 3))
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)


def _hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69) / 12))


def _triad(scale: tuple[int, ...], root: int, degree: int) -> list[int]:
    """MIDI notes of the triad on ``degree`` of ``scale`` rooted at ``root``."""
    notes = []
    for step in (0, 2, 4):
        d = degree + step
        notes.append(root + scale[d % 7] + 12 * (d // 7))
    return notes


def soundtrack(prompt: str, seconds: float, *, sample_rate: int = SAMPLE_RATE) -> Audio:
    """A stereo soundtrack of ``seconds`` for ``prompt``: soft pad chords over a bass note
    and a plucked arpeggio; key, mode, progression and tempo come from a hash of the
    prompt. Deterministic."""
    n = round(seconds * sample_rate)
    pad = np.zeros(n, dtype=np.float32)
    out = np.zeros((n, 2), dtype=np.float32)
    if n == 0:
        return out
    h = hashlib.sha256(prompt.encode("utf-8")).digest()
    root = 48 + h[0] % 8  # C3 .. G3
    scale = _MAJOR if h[1] % 3 else _MINOR
    progression = _PROGRESSIONS[h[2] % len(_PROGRESSIONS)]
    beat = 60.0 / (84 + h[3] % 37)  # 84 .. 120 bpm
    chord_len = beat * 4
    fade = min(0.25, chord_len / 4)
    for k in range(math.ceil(seconds / chord_len) + 1):
        start, stop = k * chord_len, (k + 1) * chord_len
        i0 = max(0, int((start - fade) * sample_rate))
        i1 = min(n, int((stop + fade) * sample_rate))
        if i0 >= i1:
            continue
        tt = np.arange(i0, i1, dtype=np.float32) / np.float32(sample_rate)
        # raised-cosine edges, so consecutive chords cross-fade smoothly
        env = np.clip(np.minimum(tt - (start - fade), (stop + fade) - tt) / (2 * fade), 0, 1)
        env = (0.5 - 0.5 * np.cos(np.float32(np.pi) * env)).astype(np.float32)
        notes = _triad(scale, root, progression[k % len(progression)])
        chord = np.zeros(i1 - i0, dtype=np.float32)
        for j, note in enumerate([notes[0] - 12, *notes]):
            w = np.float32(2 * np.pi * _hz(note)) * (tt - np.float32(start))
            chord += (0.16 if j == 0 else 0.1) * (np.sin(w) + 0.25 * np.sin(2 * w))
        pad[i0:i1] += env * chord
        # plucked arpeggio, one note per beat, panned left and right in turn
        for b in range(4):
            onset = start + b * beat
            if onset >= seconds:
                break
            b0 = int(onset * sample_rate)
            b1 = min(n, b0 + int(beat * 2 * sample_rate))
            tb = np.arange(b1 - b0, dtype=np.float32) / np.float32(sample_rate)
            f = np.float32(2 * np.pi * _hz(notes[(b + h[4]) % 3] + 12))
            pluck = np.sin(f * tb) * np.exp(-5 * tb) * np.minimum(1, tb * 200)
            pan = 0.3 if b % 2 else 0.7
            out[b0:b1, 0] += 0.12 * (1 - pan) * pluck
            out[b0:b1, 1] += 0.12 * pan * pluck
    # the pad in both ears, the right one 11 ms late: a wide, soft stereo image
    delay = min(n, int(0.011 * sample_rate))
    out[:, 0] += pad
    out[delay:, 1] += pad[: n - delay]
    edge = max(1, min(n // 4, int(0.3 * sample_rate)))  # fade in and out
    ramp = np.linspace(0.0, 1.0, edge, dtype=np.float32)[:, None]
    out[:edge] *= ramp
    out[n - edge :] *= ramp[::-1]
    peak = float(np.abs(out).max())
    if peak > 0:
        out *= np.float32(0.5 / peak)  # -6 dBFS
    return out


def read_audio(path: Path, *, sample_rate: int = SAMPLE_RATE) -> Audio:
    """The audio track of ``path`` as stereo float samples (empty when it has none)."""
    run = ffmpeg(["-loglevel", "error", "-i", str(path), "-vn", "-map", "0:a:0?", "-f", "s16le",
                  "-ac", "2", "-ar", str(sample_rate), "pipe:1"])
    if run.returncode != 0:
        tail = run.stderr.strip()[-300:]
        if "does not contain any stream" in tail:
            return np.zeros((0, 2), dtype=np.float32)
        raise SoraMediaError(f"could not read the audio of {path.name}: {tail}")
    pcm = np.frombuffer(run.stdout, dtype="<i2")
    return (pcm[: pcm.size // 2 * 2].reshape(-1, 2) / 32768.0).astype(np.float32)


def fit(audio: Audio, samples: int, *, loop: bool) -> Audio:
    """``audio`` trimmed, looped (``loop``) or padded with silence to exactly ``samples``."""
    if len(audio) >= samples:
        return audio[:samples]
    if loop and len(audio):
        reps = -(-samples // len(audio))
        return np.tile(audio, (reps, 1))[:samples]
    return np.concatenate([audio, np.zeros((samples - len(audio), 2), dtype=np.float32)])


def write_wav(path: Path, audio: Audio, *, sample_rate: int = SAMPLE_RATE) -> None:
    """Write ``audio`` as a 16-bit stereo WAV file."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
