"""Tests of sora_nb._content (what each download must be) and sora_nb._stills (stills made
from an MP4 with the real ffmpeg): real files, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sora_nb._content import check_content, sniff
from sora_nb._errors import SoraContentError, SoraMediaError
from sora_nb._ffmpeg import probe, run_ffmpeg
from sora_nb._scrubber import sprite_grid
from sora_nb._stills import make_spritesheet, make_thumbnail


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 8-second H.264 MP4 (ffmpeg's test pattern), as a server would send."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=12:duration=8",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(path)])
    return path


def _head(path: Path) -> bytes:
    return path.read_bytes()[:16]


def test_sniff_tells_each_kind_by_its_first_bytes(clip: Path, tmp_path: Path) -> None:
    webp, jpeg, png = tmp_path / "a.webp", tmp_path / "a.jpg", tmp_path / "a.png"
    for path, fmt in ((webp, "WEBP"), (jpeg, "JPEG"), (png, "PNG")):
        Image.new("RGB", (8, 8), (1, 2, 3)).save(path, fmt)
    assert sniff(_head(clip)) == "mp4"
    assert (sniff(_head(webp)), sniff(_head(jpeg)), sniff(_head(png))) == ("webp", "jpeg", "png")
    assert sniff(b"<!doctype html><html>") == "html"
    assert sniff(b' {"error": {}}') == "json"
    assert sniff(b"") is None and sniff(b"\x00" * 16) is None


def test_check_content_accepts_the_right_kind_and_a_generic_content_type(clip: Path) -> None:
    head = _head(clip)
    check_content(head, "video", "video/mp4", server="s", video_id="v")
    check_content(head, "video", "application/octet-stream", server="s", video_id="v")
    check_content(head, "video", None, server="s", video_id="v")


def test_a_thumbnail_that_is_an_mp4_is_refused_naming_server_and_variant(clip: Path) -> None:
    with pytest.raises(SoraContentError) as info:
        check_content(_head(clip), "thumbnail", "video/mp4", server="gateway.example",
                      video_id="video_1")
    err = info.value
    assert isinstance(err, SoraMediaError)
    assert (err.variant, err.server, err.found) == ("thumbnail", "gateway.example", "mp4")
    assert "gateway.example" in str(err) and "thumbnail" in str(err) and "WebP" in str(err)


def test_right_bytes_with_a_contradicting_content_type_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.webp"
    Image.new("RGB", (8, 8)).save(path, "WEBP")
    with pytest.raises(SoraContentError, match="Content-Type says 'video/mp4'"):
        check_content(_head(path), "thumbnail", "video/mp4", server="s", video_id="v")
    with pytest.raises(SoraContentError, match="an HTML page"):
        check_content(b"<html><body>502</body>", "video", "text/html", server="s",
                      video_id="v")


def test_a_thumbnail_made_from_the_video_is_a_real_webp_of_its_size(clip: Path,
                                                                    tmp_path: Path) -> None:
    thumb = make_thumbnail(clip, tmp_path / "thumbnail.webp")
    assert sniff(_head(thumb)) == "webp"
    with Image.open(thumb) as img:
        img.load()
        assert img.format == "WEBP" and img.size == (320, 180)
    assert [p.name for p in tmp_path.iterdir()] == ["thumbnail.webp"]  # no temp left


def test_a_spritesheet_made_from_the_video_is_a_grid_the_scrubber_reads(clip: Path,
                                                                        tmp_path: Path) -> None:
    sheet = make_spritesheet(clip, tmp_path / "spritesheet.jpg")
    assert sniff(_head(sheet)) == "jpeg"
    with Image.open(sheet) as img:
        img.load()
        # 10 columns, one row per 4 s (8 s: 2 rows), tiles 160 px on the long side
        assert img.size == (1600, 180)
        assert sprite_grid(img, 320 / 180) == (10, 2)


def test_a_dark_video_still_gives_a_readable_grid(tmp_path: Path) -> None:
    dark = tmp_path / "dark.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=0x050505:size=180x320:rate=6:duration=4",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(dark)])
    sheet = make_spritesheet(dark, tmp_path / "s.jpg")
    with Image.open(sheet) as img:
        assert sprite_grid(img, 180 / 320) == (10, 1)


def test_stills_of_a_file_without_video_are_a_media_error(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=duration=1", str(wav)])
    assert not probe(wav).has_video
    with pytest.raises(SoraMediaError, match="no video stream"):
        make_thumbnail(wav, tmp_path / "t.webp")
    with pytest.raises(SoraMediaError, match="no video stream"):
        make_spritesheet(wav, tmp_path / "s.jpg")
    assert not (tmp_path / "t.webp").exists() and not (tmp_path / "s.jpg").exists()
