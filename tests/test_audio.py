"""merge_audio on real files made by ffmpeg: the video stream is copied bit for bit, the new
soundtrack replaces or mixes over the old one, fits the video's duration, and is cached."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from moviepy import AudioArrayClip, AudioClip

from sora_nb import _config
from sora_nb._audio import MergedVideo, merge_audio
from sora_nb._errors import SoraAudioError, SoraMediaError, SoraParameterError
from sora_nb._ffmpeg import ffmpeg_exe, probe, run_ffmpeg

pytestmark = pytest.mark.slow

SR = 44100  # narration sample rate
OUT_SR = 48000  # rate the outputs are decoded at for measuring
NARRATION_HZ = 1000.0
ORIGINAL_HZ = 440.0
ORIGINAL_AMP = 0.5


@dataclass(frozen=True)
class Media:
    v4: Path  # 4 s, 1280x720 24 fps h264 + aac 440 Hz tone
    v8: Path  # 8 s, same
    silent: Path  # 4 s video, no audio stream
    audio_only: Path  # an .m4a with only an audio stream (not a video)
    huffyuv: Path  # an .avi whose video codec an mp4 cannot hold
    short: Path  # 1.5 s wav: 1 s of 1000 Hz, then 0.5 s of silence
    long: Path  # 10 s wav of 1000 Hz
    formats: dict[str, Path]  # the short narration as mp3/ogg/flac/m4a/float wav/5.1 flac


def tone(seconds: float, hz: float = NARRATION_HZ, amp: float = 0.5, rate: int = SR) -> Any:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_wav(path: Path, samples: Any, rate: int = SR) -> Path:
    pcm = np.asarray(np.round(np.clip(samples, -1, 1) * 32767), dtype="<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def make_video(path: Path, seconds: int, *, audio: bool = True) -> Path:
    src = ["-f", "lavfi", "-i", f"testsrc=size=1280x720:rate=24:duration={seconds}"]
    if audio:
        expr = f"{ORIGINAL_AMP}*sin(2*PI*{ORIGINAL_HZ}*t)"
        src += ["-f", "lavfi", "-i", f"aevalsrc={expr}:s=48000:d={seconds}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    codecs += ["-c:a", "aac"] if audio else []
    run_ffmpeg(["-y", *src, *codecs, str(path)])
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    d = tmp_path_factory.mktemp("media")
    short = np.concatenate([tone(1.0), np.zeros(SR // 2, np.float32)])
    short_wav = write_wav(d / "short.wav", short)
    formats = {}
    for ext in ("mp3", "ogg", "flac", "m4a"):
        formats[ext] = d / f"short.{ext}"
        run_ffmpeg(["-y", "-i", str(short_wav), str(formats[ext])])
    formats["f32.wav"] = d / "short_f32.wav"  # not for the stdlib wave reader: ffmpeg reads it
    run_ffmpeg(["-y", "-i", str(short_wav), "-c:a", "pcm_f32le", str(formats["f32.wav"])])
    formats["5.1.flac"] = d / "short_51.flac"  # front left/right only: downmixed to stereo
    run_ffmpeg(["-y", "-i", str(short_wav), "-af", "pan=5.1|FL=c0|FR=c0", str(formats["5.1.flac"])])
    audio_only = d / "audio_only.m4a"
    run_ffmpeg(["-y", "-i", str(short_wav), "-c:a", "aac", str(audio_only)])
    huffyuv = d / "huffyuv.avi"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=24:duration=1",
                "-c:v", "huffyuv", str(huffyuv)])
    return Media(
        v4=make_video(d / "v4.mp4", 4), v8=make_video(d / "v8.mp4", 8),
        silent=make_video(d / "silent.mp4", 4, audio=False), audio_only=audio_only,
        huffyuv=huffyuv, short=short_wav, long=write_wav(d / "long.wav", tone(10.0)),
        formats=formats,
    )


@pytest.fixture()
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A fresh cache dir, output dir and system temp dir, to look for leftovers in."""
    paths = {name: tmp_path / name for name in ("cache", "out", "tmp")}
    for p in paths.values():
        p.mkdir()
    _config.configure(cache_dir=paths["cache"])
    monkeypatch.setattr(tempfile, "tempdir", str(paths["tmp"]))
    yield paths
    _config.reset_settings()


def files_in(*folders: Path) -> list[Path]:
    return sorted(p for f in folders if f.exists() for p in f.rglob("*") if p.is_file())


# -- measuring outputs ------------------------------------------------------------------


def video_md5(path: Path) -> str:
    """MD5 of the video packets as stored (stream copy, nothing decoded)."""
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
           "-f", "md5", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout.decode().strip()


def video_seconds(path: Path) -> float:
    """Duration of the 24 fps video stream, from its packet count."""
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
           "-f", "framecrc", "-"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    return sum(1 for line in out.splitlines() if line and not line.startswith("#")) / 24


def decoded_audio(path: Path, channel: int | None = None) -> Any:
    """The first audio stream (or one channel of it), as mono float32 at 48 kHz."""
    mono = ["-ac", "1"] if channel is None else ["-af", f"pan=mono|c0=c{channel}"]
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
           *mono, "-ar", str(OUT_SR), "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, "<f4")


def amplitude(x: Any, hz: float, start: float, end: float) -> float:
    """Amplitude of a sine of ``hz`` in x[start:end] (seconds), Hann-windowed FFT."""
    seg = x[round(start * OUT_SR) : round(end * OUT_SR)]
    w = np.hanning(len(seg))
    spec = np.abs(np.fft.rfft(seg * w))
    k = round(hz * len(seg) / OUT_SR)
    return float(2 * spec[k - 2 : k + 3].max() / w.sum())


def rms(x: Any, start: float, end: float) -> float:
    return float(np.sqrt(np.mean(x[round(start * OUT_SR) : round(end * OUT_SR)] ** 2)))


def check_merged(m: MergedVideo, video: Path) -> Any:
    """The video packets are the input's, bit for bit; AAC audio lasts as long as the video
    within one AAC frame. Returns the decoded audio."""
    assert m.path.is_file() and m.source == video
    assert video_md5(m.path) == video_md5(video)
    info = probe(m.path)
    assert info.audio_codec == "aac" and info.sample_rate is not None
    seconds = video_seconds(video)
    assert m.duration == pytest.approx(seconds, abs=1e-9)
    assert info.duration == pytest.approx(seconds, abs=0.011)
    audio = decoded_audio(m.path)
    assert abs(len(audio) / OUT_SR - seconds) <= 1024 / info.sample_rate
    return audio


# -- replace, mix, fit --------------------------------------------------------------------


def test_replace_copies_the_video_and_drops_the_original(media: Media, dirs: dict) -> None:
    m = merge_audio(media.v8, media.long)
    audio = check_merged(m, media.v8)
    assert (m.mode, m.fit, m.duration) == ("replace", "trim", 8.0)
    assert m.path.parent == dirs["cache"] / "merged" and m.path.name.startswith("merged-")
    assert amplitude(audio, NARRATION_HZ, 1, 7) == pytest.approx(0.5, rel=0.05)
    assert amplitude(audio, ORIGINAL_HZ, 1, 7) < 0.002  # the 440 Hz original is gone
    assert rms(audio, 7.5, 7.95) > 0.3  # long audio is cut at the video's end, not before
    assert probe(m.path).channels == 1  # mono narration stays mono


def test_mix_keeps_both_at_their_volumes(media: Media, dirs: dict) -> None:
    m = merge_audio(media.v4, media.long, mode="mix", volume=0.8, original_volume=0.3)
    audio = check_merged(m, media.v4)
    assert m.mode == "mix"
    assert amplitude(audio, NARRATION_HZ, 1, 3) == pytest.approx(0.5 * 0.8, rel=0.05)
    assert amplitude(audio, ORIGINAL_HZ, 1, 3) == pytest.approx(ORIGINAL_AMP * 0.3, rel=0.05)


def test_mix_keeps_the_soundtrack_rate(media: Media, dirs: dict) -> None:
    """A 22.05 kHz narration is upsampled to the 48 kHz soundtrack, not the other way."""
    narration = (tone(4.0, rate=22050), 22050)
    assert probe(merge_audio(media.v4, narration).path).sample_rate == 22050
    m = merge_audio(media.v4, narration, mode="mix", original_volume=0.5)
    audio = check_merged(m, media.v4)
    assert probe(m.path).sample_rate == 48000
    assert amplitude(audio, NARRATION_HZ, 1, 3) == pytest.approx(0.5, rel=0.05)
    assert amplitude(audio, ORIGINAL_HZ, 1, 3) == pytest.approx(ORIGINAL_AMP / 2, rel=0.05)


def test_a_loud_mix_is_scaled_down_not_clipped(media: Media, dirs: dict) -> None:
    m = merge_audio(media.v4, media.long, mode="mix", volume=2.0, original_volume=1.0)
    audio = check_merged(m, media.v4)  # 2 * 0.5 + 0.5 would peak at 1.5
    narration, original = (amplitude(audio, hz, 1, 3) for hz in (NARRATION_HZ, ORIGINAL_HZ))
    assert narration / original == pytest.approx(2.0, rel=0.03)  # the balance asked for
    assert narration + original < 1.02  # ... at full scale, not beyond
    assert amplitude(audio, 3 * NARRATION_HZ, 1, 3) < 0.01  # clipping would add 0.05 here


def test_mix_on_a_video_without_audio_is_a_replace(media: Media, dirs: dict) -> None:
    m = merge_audio(media.silent, media.short, mode="mix")
    audio = check_merged(m, media.silent)
    assert m.mode == "replace"
    assert amplitude(audio, NARRATION_HZ, 0.1, 0.9) == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize("fit", ["trim", "pad", "loop"])
def test_fit_short_audio(media: Media, dirs: dict, fit: str) -> None:
    """Narration: 1 s of tone, 0.5 s of silence (1.5 s) under a 4 s video."""
    m = merge_audio(media.v4, media.short, fit=fit)
    audio = check_merged(m, media.v4)
    assert m.fit == fit
    assert rms(audio, 0.1, 0.9) > 0.3 and rms(audio, 1.1, 1.4) < 0.01
    if fit == "loop":  # the tail repeats: tone at 1.5-2.5 and 3.0-4.0, silence between
        assert rms(audio, 1.6, 2.4) > 0.3 and rms(audio, 2.6, 2.9) < 0.01
        assert rms(audio, 3.1, 3.95) > 0.3
    else:  # the tail is silent
        assert rms(audio, 1.1, 4.0) < 0.01


@pytest.mark.parametrize("fit", ["trim", "pad", "loop"])
def test_fit_long_audio_is_cut_at_the_video_end(media: Media, dirs: dict, fit: str) -> None:
    m = merge_audio(media.v4, media.long, fit=fit)
    audio = check_merged(m, media.v4)
    assert rms(audio, 0.1, 3.95) > 0.3


def test_loop_of_a_tiny_sound(media: Media, dirs: dict) -> None:
    click = np.zeros(441, np.float32)
    click[:44] = 0.9  # 10 ms: 1 ms on, 9 ms off, 400 repeats in 4 s
    m = merge_audio(media.v4, (click, SR), fit="loop")
    audio = check_merged(m, media.v4)
    assert amplitude(audio, 100.0, 0.5, 3.5) > 0.05  # a 100 Hz click train all the way
    assert rms(audio, 3.5, 3.95) > 0.1


# -- audio inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mp3", "ogg", "flac", "m4a", "f32.wav", "5.1.flac"])
def test_audio_files(media: Media, dirs: dict, ext: str) -> None:
    audio = check_merged(merge_audio(media.v4, media.formats[ext]), media.v4)
    level = amplitude(audio, NARRATION_HZ, 0.1, 0.9)
    if ext == "5.1.flac":
        assert level > 0.3  # ffmpeg's downmix to stereo lowers the level
    else:
        assert level == pytest.approx(0.5, rel=0.1)  # mp3 comes out 5% low
    assert rms(audio, 1.2, 4.0) < 0.01


@pytest.mark.parametrize("ext", ["wav", "mp3"])
def test_audio_bytes(media: Media, dirs: dict, ext: str) -> None:
    path = media.short if ext == "wav" else media.formats[ext]
    audio = check_merged(merge_audio(media.v4, path.read_bytes()), media.v4)
    assert amplitude(audio, NARRATION_HZ, 0.1, 0.9) == pytest.approx(0.5, rel=0.1)
    assert files_in(dirs["tmp"]) == []  # the bytes went through a temp file, now gone


def test_audio_arrays_and_clips(media: Media, dirs: dict) -> None:
    mono = tone(2.0, rate=22050)
    stereo_int = np.stack([np.round(mono * 32767), np.zeros_like(mono)], axis=1)
    clip = AudioClip(lambda t: 0.5 * np.sin(2 * np.pi * NARRATION_HZ * t), duration=2, fps=SR)
    inputs: list[Any] = [(mono, 22050), (mono.astype(np.float64)[:, None], 22050),
                         (stereo_int.astype(np.int16), 22050), clip,
                         AudioArrayClip(np.stack([mono, mono], axis=1), fps=22050)]
    for audio_in in inputs:
        m = merge_audio(media.v4, audio_in)
        audio = check_merged(m, media.v4)
        assert amplitude(audio, NARRATION_HZ, 0.5, 1.5) > 0.3
    assert probe(m.path).channels == 1  # a clip with two equal channels is mono
    stereo = merge_audio(media.v4, inputs[2]).path  # left: the tone, right: silence
    assert probe(stereo).channels == 2
    assert amplitude(decoded_audio(stereo, 0), NARRATION_HZ, 0.5, 1.5) == pytest.approx(0.5,
                                                                                        rel=0.05)
    assert rms(decoded_audio(stereo, 1), 0.1, 3.9) < 0.01


# -- cache ------------------------------------------------------------------------------


class ProcessCounter:
    """Counts subprocesses started (a spy that runs the real Popen)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = subprocess.Popen
        counter = self

        class Counting(real):  # type: ignore[misc,valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                counter.count += 1
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(subprocess, "Popen", Counting)


def test_cache_reuses_identical_merges(media: Media, dirs: dict,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = merge_audio(media.v4, media.short, fit="loop")
    stamp = first.path.stat().st_mtime_ns
    spawned = ProcessCounter(monkeypatch)
    again = merge_audio(str(media.v4), media.short.read_bytes(), fit="loop")  # same contents
    assert again == first and spawned.count == 0 and first.path.stat().st_mtime_ns == stamp
    out = dirs["out"] / "final.mp4"
    copied = merge_audio(media.v4, media.short, out, fit="loop")
    assert spawned.count == 0 and copied.path == out
    assert out.read_bytes() == first.read_bytes() and repr(copied).startswith("<MergedVideo fi")

    other = merge_audio(media.v4, media.short, fit="loop", volume=0.5)  # other settings
    assert other.path != first.path and spawned.count > 0
    spawned.count = 0
    fresh = merge_audio(media.v4, media.short, fit="loop", cache=False)  # always redone
    assert fresh.path == first.path and spawned.count > 0
    assert first.path.stat().st_mtime_ns != stamp
    assert files_in(dirs["tmp"]) == []
    assert len(files_in(dirs["cache"] / "merged")) == 4  # two merges: .mp4 + .json each


def test_explicit_out_without_cache(media: Media, dirs: dict) -> None:
    out = dirs["out"] / "sub" / "narrated.mov"
    m = merge_audio(media.v4, media.short, out, cache=False)
    check_merged(m, media.v4)
    assert m.path == out and files_in(dirs["out"]) == [out]
    assert files_in(dirs["cache"], dirs["tmp"]) == []


def test_merged_video_views(media: Media, dirs: dict, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    m = merge_audio(media.v4, media.short)
    assert repr(m) == f"<MergedVideo {m.path.name} 4.00s replace/trim>"
    assert m.read_bytes() == m.path.read_bytes()
    monkeypatch.chdir(dirs["out"])  # media_html publishes the file under ./sora_nb_media
    page = m._repr_html_()
    assert "<video" in page
    # labelled with what was merged: mode, fit, the audio and the source video
    assert m.label().startswith("soundtrack replaced by ") and "(fit: trim)" in m.label()
    assert f"in {media.v4.name}, 4.00 s" in m.label() and "merged: soundtrack" in page
    m.show()  # outside IPython: prints the path
    assert m.path.name in capsys.readouterr().out


# -- bad input: a clear error, and nothing left behind ---------------------------------------

BAD_PARAMS: list[tuple[dict[str, Any], str]] = [
    ({"mode": "blend"}, "mode='blend'"),
    ({"fit": "stretch"}, "fit='stretch'"),
    ({"volume": -0.5}, "volume=-0.5"),
    ({"original_volume": -1}, "original_volume=-1"),
    ({"volume": float("nan")}, "volume=nan"),
    ({"volume": 50}, "volume=50"),
    ({"volume": True}, "volume=True"),
    ({"cache": "yes"}, "cache='yes'"),
    ({"out": "clip.webm"}, "out='clip.webm'"),
]


@pytest.mark.parametrize(("kwargs", "named"), BAD_PARAMS)
def test_bad_parameters(media: Media, dirs: dict, kwargs: dict, named: str) -> None:
    with pytest.raises(SoraParameterError, match="is not allowed") as err:
        merge_audio(media.v4, media.short, **kwargs)
    assert named in str(err.value)
    assert files_in(*dirs.values()) == []


def broken_frames(t: Any) -> Any:
    """A clip's frame function that works when the clip is made and fails when rendered."""
    if np.ndim(t):
        raise RuntimeError("decoder gone")
    return 0.0


def bad_audio(media: Media, d: Path) -> list[tuple[Any, type[Exception], str]]:
    no_audio = d / "video_only.m4a"
    run_ffmpeg(["-y", "-i", str(media.silent), "-c", "copy", str(no_audio)])
    (d / "empty.wav").write_bytes(b"")
    write_wav(d / "no_frames.wav", np.zeros(0, np.float32))
    (d / "corrupt.mp3").write_bytes(b"\xff\xfb" + bytes(range(256)) * 8)
    (d / "notes.txt").write_text("narration")
    rng = np.random.default_rng(0)
    ok = tone(1.0)
    return [
        (str(d / "missing.wav"), SoraAudioError, "no such file"),
        (d / "empty.wav", SoraAudioError, "empty"),
        (d / "no_frames.wav", SoraAudioError, "no samples"),
        ((d / "no_frames.wav").read_bytes(), SoraAudioError, "no samples"),
        (d / "corrupt.mp3", SoraAudioError, "corrupt.mp3"),
        (d / "notes.txt", SoraAudioError, "unsupported kind of file .txt"),
        (media.silent, SoraAudioError, "unsupported kind of file .mp4"),
        (no_audio, SoraAudioError, "no audio stream"),
        (b"", SoraAudioError, "empty"),
        (b"hello, not audio", SoraAudioError, "not a wav, mp3"),
        (b"RIFF\0\0\0\0WAVE" + rng.bytes(64), SoraAudioError, "not a readable audio file"),
        ((np.zeros(0, np.float32), SR), SoraAudioError, "empty"),
        ((ok, 0), SoraParameterError, "sample_rate=0"),
        ((ok, 44100.0), SoraParameterError, "sample_rate=44100.0"),
        ((np.stack([ok] * 3, axis=1), SR), SoraParameterError, "shape=(44100, 3)"),
        ((np.stack([ok, ok]), SR), SoraParameterError, "channels-first"),
        ((np.full(100, np.nan), SR), SoraParameterError, "NaN"),
        ((ok * 30000, SR), SoraParameterError, "int PCM"),
        ((ok.astype(np.complex64), SR), SoraParameterError, "dtype='complex64'"),
        ((ok, SR, 2), SoraParameterError, "(samples, sample_rate)"),
        (([0.1, 0.2], SR), SoraParameterError, "(samples, sample_rate)"),
        (ok, SoraParameterError, "pass (array, sample_rate)"),
        (42, SoraParameterError, "audio=42"),
        (AudioClip(lambda t: 0 * t, duration=None, fps=SR), SoraAudioError, "duration=None"),
        (AudioClip(lambda t: 0 * t, duration=0, fps=SR), SoraAudioError, "no length"),
        (AudioClip(lambda t: t * np.nan, duration=1, fps=SR), SoraAudioError, "NaN"),
        (AudioClip(broken_frames, duration=1, fps=SR), SoraAudioError, "decoder gone"),
    ]


def test_bad_audio(media: Media, dirs: dict, tmp_path: Path) -> None:
    for audio, error, says in bad_audio(media, tmp_path):
        for out in (None, dirs["out"] / "x.mp4"):
            with pytest.raises(error) as err:
                merge_audio(media.v4, audio, out)
            assert says in str(err.value), (audio, str(err.value))
            assert files_in(*dirs.values()) == [], audio


def test_bad_video(media: Media, dirs: dict, tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "corrupt.mp4").write_bytes(bytes(range(256)) * 64)
    cases: list[tuple[Any, type[Exception], str]] = [
        (tmp_path / "missing.mp4", SoraMediaError, "no such file"),
        (tmp_path / "empty.mp4", SoraMediaError, "empty"),
        (tmp_path / "corrupt.mp4", SoraMediaError, "not a readable media file"),
        (media.audio_only, SoraMediaError, "has no video stream"),
        (media.short, SoraMediaError, "has no video stream"),
        (media.huffyuv, SoraMediaError, "huffyuv video stream could not be copied"),
        (None, SoraParameterError, "video=None"),
    ]
    for video, error, says in cases:
        for out in (None, dirs["out"] / "x.mp4"):
            with pytest.raises(error) as err:
                merge_audio(video, media.short, out)
            assert says in str(err.value), (video, str(err.value))
            assert files_in(*dirs.values()) == [], video
