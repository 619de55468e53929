"""Tests of sora_nb.local.render: real renders through the real ffmpeg, every asset decoded
and measured; determinism, derivation from sources, atomicity, and the pure helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sora_nb._errors import SoraMediaError, SoraParameterError
from sora_nb._ffmpeg import probe
from sora_nb.local import _render_audio as audio
from sora_nb.local._font import ELLIPSIS, font, printable, wrap
from sora_nb.local._render_pipe import decode
from sora_nb.local._render_scene import Scene, timecode
from sora_nb.local._render_yuv import Canvas, rgb_to_yuv, yuv_to_rgb
from sora_nb.local.render import RenderResult, RenderSpec, render

pytestmark = pytest.mark.slow

FPS = 24
CAT = "A calico cat playing a grand piano in a sunlit jazz club, slow dolly in"


def _spec(prompt: str = CAT, **kw: object) -> RenderSpec:
    args: dict[str, object] = {"model": "sora-2", "width": 1280, "height": 720, "seconds": 4}
    args.update(kw)
    return RenderSpec(prompt, **args)  # type: ignore[arg-type]


def _lumas(video: Path, size: tuple[int, int] = (1280, 720), step: int = 1) -> list[np.ndarray]:
    """The luma plane of every ``step``-th decoded frame (all are decoded), as floats."""
    return [c.y.astype(np.float32) for i, c in enumerate(decode(video, size, FPS)) if i % step == 0]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def unrelated(tmp_path_factory: pytest.TempPathFactory) -> RenderResult:
    """A 4 s render that has nothing to do with ``source``."""
    return render(_spec("A quiet library"), tmp_path_factory.mktemp("unrelated"))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> RenderResult:
    """A 4 s create render, used as the source of remix / edit / extend."""
    return render(_spec("Ocean waves at dusk, a red kite over the dunes"),
                  tmp_path_factory.mktemp("source"))


# ---------------------------------------------------------------- the assets themselves


def test_create_renders_a_playable_h264_aac_mp4_of_exact_length(source: RenderResult) -> None:
    info = probe(source.video, decode=True)
    assert (info.width, info.height) == (1280, 720)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert info.frames == 4 * FPS
    assert info.decoded_duration == pytest.approx(4.0, abs=1 / FPS)
    assert info.duration == pytest.approx(4.0, abs=1 / FPS)
    sound = audio.read_audio(source.video)
    assert len(sound) / audio.SAMPLE_RATE == pytest.approx(4.0, abs=1 / FPS)
    assert 0.05 < float(np.abs(sound).max()) <= 0.6  # audible, not clipping
    # faststart: the index (moov) comes before the media (mdat), so browsers play at once
    head = source.video.read_bytes()[:4096]
    assert 0 <= head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head


def test_thumbnail_and_spritesheet_decode_at_the_announced_sizes(source: RenderResult) -> None:
    assert sorted(p.name for p in source.video.parent.iterdir()) == [
        "spritesheet.jpg", "thumbnail.webp", "video.mp4"]
    with Image.open(source.thumbnail) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (1280, 720))
        thumb.load()
    assert source.spritesheet_grid == (10, 1)
    assert source.spritesheet_frame_size == (160, 90)
    with Image.open(source.spritesheet) as sheet:
        assert (sheet.format, sheet.size) == ("JPEG", (1600, 90))
        tiles = np.asarray(sheet.convert("L"), np.float32).reshape(90, 10, 160)
    # tiles are sampled across the clip: neighbours differ (moving shapes, running clock)
    assert all(np.abs(tiles[:, k] - tiles[:, k + 1]).mean() > 0.5 for k in range(9))


def test_thumbnail_is_the_middle_frame_in_the_same_colours(source: RenderResult) -> None:
    # decoding goes through the MP4's colour tags: a range or matrix mix-up shows here
    with contextlib.closing(decode(source.video, (1280, 720), FPS)) as frames:
        frame = next(c for i, c in enumerate(frames) if i == 48).image()
    with Image.open(source.thumbnail) as thumb:
        shown = np.asarray(thumb.convert("RGB"), np.float32)
    assert np.abs(np.asarray(frame, np.float32) - shown).mean() < 3


@pytest.mark.parametrize(("size", "seconds", "grid", "tile"), [
    ((720, 1280), 1, (10, 1), (90, 160)),
    ((1792, 1024), 8.5, (10, 2), (160, 91)),
])
def test_other_sizes_and_lengths(tmp_path: Path, size: tuple[int, int], seconds: float,
                                 grid: tuple[int, int], tile: tuple[int, int]) -> None:
    spec = _spec(width=size[0], height=size[1], seconds=seconds)
    result = render(spec, tmp_path)
    info = probe(result.video, decode=True)
    assert (info.width, info.height) == size
    assert info.frames == round(seconds * FPS)
    assert info.decoded_duration == pytest.approx(seconds, abs=1 / FPS)
    assert (result.spritesheet_grid, result.spritesheet_frame_size) == (grid, tile)
    with Image.open(result.spritesheet) as sheet:
        assert sheet.size == (grid[0] * tile[0], grid[1] * tile[1])
    with Image.open(result.thumbnail) as thumb:
        assert thumb.size == size


def test_same_spec_gives_byte_identical_files(tmp_path: Path, source: RenderResult) -> None:
    again = render(_spec("Ocean waves at dusk, a red kite over the dunes"), tmp_path)
    for mine, theirs in zip((again.video, again.thumbnail, again.spritesheet),
                            (source.video, source.thumbnail, source.spritesheet), strict=True):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name


def test_frames_move_and_different_prompts_look_different(
    tmp_path: Path, source: RenderResult
) -> None:
    other = render(_spec(CAT, seconds=1), tmp_path)
    mine, theirs = _lumas(source.video)[:FPS], _lumas(other.video)
    assert len(theirs) == FPS
    assert np.abs(mine[0] - mine[12]).mean() > 0.3  # shapes moved
    assert np.abs(mine[0] - theirs[0]).mean() > 5  # another palette, shapes, text
    with Image.open(source.thumbnail) as a, Image.open(other.thumbnail) as b:
        diff = np.abs(np.asarray(a, np.float32) - np.asarray(b.convert("RGB"), np.float32))
    assert diff.mean() > 10


def test_reference_image_is_the_background(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:720, 0:1280]
    pattern = np.zeros((720, 1280, 3), np.uint8)
    pattern[..., 0] = np.where((xx // 160 + yy // 160) % 2, 230, 20)  # a red checkerboard
    pattern[..., 1] = 90
    ref = tmp_path / "ref.png"
    Image.fromarray(pattern).save(ref)
    result = render(_spec("A checkerboard", seconds=1, reference=ref), tmp_path / "out")
    with Image.open(result.thumbnail) as thumb:
        got = np.asarray(thumb.convert("RGB"), np.float32)
    close = np.abs(got - pattern).max(axis=2) < 40
    assert close.mean() > 0.6  # the checkerboard shows through everywhere but the overlays


# ------------------------------------------------------------ remix / edit / extend


def _closer_to(frames: list[np.ndarray], near: list[np.ndarray], far: list[np.ndarray]) -> bool:
    """Whether ``frames`` resemble ``near`` more than ``far``, frame by frame (luma
    correlation over the middle band, between the header and the prompt panel)."""
    band = slice(120, 400)

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a[band].ravel(), b[band].ravel())[0, 1])

    return all(corr(f, n) > corr(f, o) + 0.1 for f, n, o in zip(frames, near, far, strict=False))


@pytest.mark.parametrize("kind", ["remix", "edit"])
def test_remix_and_edit_restyle_the_source_frames(
    tmp_path: Path, source: RenderResult, unrelated: RenderResult, kind: str
) -> None:
    spec = _spec("Neon city at night", kind=kind, source=source.video, source_id="video_src1")
    result = render(spec, tmp_path)
    info = probe(result.video, decode=True)
    assert (info.frames, info.width, info.height, info.audio_codec) == (96, 1280, 720, "aac")
    derived, src = _lumas(result.video, step=12), _lumas(source.video, step=12)
    assert _closer_to(derived, src, _lumas(unrelated.video, step=12))
    assert np.abs(derived[4] - src[4]).mean() > 2  # not a plain copy: restyled, relabelled


def test_remix_loops_a_shorter_source_to_the_requested_length(
    tmp_path: Path, source: RenderResult
) -> None:
    spec = _spec("Neon", seconds=6, kind="remix", source=source.video, source_id="v")
    info = probe(render(spec, tmp_path).video, decode=True)
    assert info.frames == 6 * FPS
    assert info.decoded_duration == pytest.approx(6, abs=1 / FPS)


def test_extend_plays_the_source_then_new_frames(tmp_path: Path, source: RenderResult) -> None:
    spec = _spec("The kite flies into a storm", seconds=8, kind="extend",
                 source=source.video, source_id="video_src1")
    result = render(spec, tmp_path)
    info = probe(result.video, decode=True)
    assert info.frames == 8 * FPS
    assert info.decoded_duration == pytest.approx(8, abs=1 / FPS)
    assert len(audio.read_audio(result.video)) / audio.SAMPLE_RATE == pytest.approx(
        8, abs=1 / FPS)
    out, src = _lumas(result.video), _lumas(source.video)
    for k in (0, 1, 47, 95):  # the source part is the source, re-encoded
        assert np.abs(out[k] - src[k]).mean() < 0.5, k
    assert np.abs(out[120] - src[95]).mean() > 3  # then new frames, relabelled
    assert np.abs(out[120] - out[180]).mean() > 0.3  # that move


def test_extend_keeps_the_source_soundtrack_first(tmp_path: Path, source: RenderResult) -> None:
    spec = _spec("Storm", seconds=6, kind="extend", source=source.video, source_id="v")
    got = audio.read_audio(render(spec, tmp_path).video)
    src = audio.read_audio(source.video)
    part = slice(audio.SAMPLE_RATE, 3 * audio.SAMPLE_RATE)  # well inside the source part
    assert np.corrcoef(got[part, 0], src[part, 0])[0, 1] > 0.95


# ------------------------------------------------------------------- failures


def test_missing_source_fails_before_writing_anything(tmp_path: Path) -> None:
    spec = _spec(kind="remix", source=tmp_path / "gone.mp4", source_id="v")
    with pytest.raises(SoraParameterError, match="source"):
        render(spec, tmp_path / "out")
    assert _files(tmp_path / "out") == []


def test_source_that_is_not_a_video_is_a_media_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_text("not a video")
    with pytest.raises(SoraMediaError):
        render(_spec(kind="edit", source=bogus, source_id="v"), tmp_path / "out")
    assert _files(tmp_path / "out") == []


def test_a_failure_mid_render_leaves_no_files(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Failure injection, not a mock: a real render whose 30th frame raises.
    real = Scene.frame

    def failing(self: Scene, i: int) -> Canvas:
        if i == 30:
            raise RuntimeError("injected failure")
        return real(self, i)

    monkeypatch.setattr(Scene, "frame", failing)
    with pytest.raises(RuntimeError, match="injected"):
        render(_spec(seconds=2), tmp_path)
    assert _files(tmp_path) == []


_KILLED = """
import sys
from pathlib import Path
from sora_nb.local._render_scene import Scene
from sora_nb.local.render import RenderSpec, render
real = Scene.frame
def stall(self, i):
    if i == 40:  # mid-render: announce it, then block until killed
        Path(sys.argv[2]).touch()
        sys.stdin.read()
    return real(self, i)
Scene.frame = stall
render(RenderSpec("killed", "sora-2", 1280, 720, 4), Path(sys.argv[1]))
"""


def test_a_worker_killed_mid_render_leaves_no_finished_looking_files(tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "stalled"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(out), str(marker)],
                            stdin=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():  # poll for the worker to reach frame 40
            assert proc.poll() is None and time.monotonic() < deadline, "worker never stalled"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    names = _files(out)
    assert not {"video.mp4", "thumbnail.webp", "spritesheet.jpg"} & set(names)
    assert all(name.startswith(".") for name in names)  # only atomic_path's temp files


@pytest.mark.parametrize(("kw", "param"), [
    ({"width": 641, "height": 480}, "size"),
    ({"width": 8, "height": 8}, "size"),
    ({"seed": "7"}, "seed"),
    ({"seconds": 0}, "seconds"),
    ({"seconds": float("nan")}, "seconds"),
    ({"seconds": "4"}, "seconds"),
    ({"fps": 0}, "fps"),
    ({"fps": 24.0}, "fps"),
    ({"kind": "dance"}, "kind"),
    ({"kind": "remix"}, "source"),
    ({"source": Path("x.mp4")}, "source"),
    ({"model": ""}, "model"),
])
def test_bad_specs_name_the_parameter(kw: dict[str, object], param: str) -> None:
    with pytest.raises(SoraParameterError) as err:
        _spec(**kw)
    assert err.value.param == param
    assert param in str(err.value) and "allowed" in str(err.value)


def test_unreadable_reference_is_a_parameter_error(tmp_path: Path) -> None:
    bad = tmp_path / "ref.png"
    bad.write_text("no image")
    with pytest.raises(SoraParameterError, match="reference"):
        render(_spec(reference=bad), tmp_path / "out")
    assert _files(tmp_path / "out") == []


# ------------------------------------------------------------------ key()


def test_key_is_stable_and_hashes_files_by_content(tmp_path: Path, source: RenderResult) -> None:
    copy = tmp_path / "elsewhere.mp4"
    copy.write_bytes(source.video.read_bytes())
    a = _spec(kind="remix", source=source.video, source_id="v")
    b = _spec(kind="remix", source=copy, source_id="v")
    assert a.key() == b.key() == a.key()
    assert len(a.key()) == 64 and int(a.key(), 16) >= 0
    others = [_spec(kind="edit", source=copy, source_id="v"), _spec(CAT + "!"),
              _spec(model="sora-2-pro"), _spec(seconds=8), _spec(fps=30),
              _spec(width=720, height=1280), _spec(kind="remix", source=copy, source_id="w")]
    assert len({a.key(), *(o.key() for o in others)}) == 1 + len(others)
    copy.write_bytes(copy.read_bytes() + b"\0")
    assert b.key() != a.key()


# ------------------------------------------------------------- pure helpers


def test_wrap_fits_the_width_and_ends_long_text_with_an_ellipsis() -> None:
    f = font(36)
    lines = wrap("word " * 200, f, 600, 3)
    assert len(lines) == 3 and lines[-1].endswith(ELLIPSIS)
    assert all(f.getlength(line) <= 600 for line in lines)
    assert wrap("short prompt", f, 600, 3) == ["short prompt"]
    assert wrap("   ", f, 600, 3) == []
    giant = wrap("x" * 500, f, 300, 4)  # one word wider than the line is split
    assert len(giant) == 4 and giant[-1].endswith(ELLIPSIS)
    assert all(f.getlength(line) <= 300 for line in giant)


def test_printable_keeps_what_the_bundled_font_can_draw() -> None:
    assert printable("Crème  brûlée —\nat dusk") == "Creme brulee - at dusk"
    assert printable("東京") == "??"
    assert printable("“quoted” … fine") == "“quoted” … fine"


def test_timecode() -> None:
    assert timecode(0) == "00:00.00"
    assert timecode(3.25) == "00:03.25"
    assert timecode(75.5) == "01:15.50"


def test_soundtrack_is_deterministic_exact_and_prompt_dependent() -> None:
    a = audio.soundtrack("a cat", 4.0)
    assert a.shape == (4 * audio.SAMPLE_RATE, 2) and a.dtype == np.float32
    assert np.array_equal(a, audio.soundtrack("a cat", 4.0))
    assert float(np.abs(a).max()) == pytest.approx(0.5, abs=1e-3)
    assert not np.allclose(a, audio.soundtrack("a dog", 4.0), atol=0.05)
    assert audio.soundtrack("x", 0).shape == (0, 2)


def test_yuv_round_trip() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (64, 3)).astype(np.uint8)
    assert np.abs(yuv_to_rgb(rgb_to_yuv(rgb)).astype(int) - rgb).max() <= 1
    white, black = rgb_to_yuv(np.array([255, 255, 255])), rgb_to_yuv(np.array([0, 0, 0]))
    assert np.allclose(white, [235, 128, 128], atol=0.01)
    assert np.allclose(black, [16, 128, 128], atol=0.01)
