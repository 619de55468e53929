"""Tests of sora_nb._params: model, seconds, size and prompt validation, reference images
(real files made with Pillow in tmp_path) and the assembled VideoParams."""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from sora_nb._errors import SoraParameterError
from sora_nb._params import (
    DEFAULT_SIZE,
    MAX_PROMPT_CHARS,
    SECONDS,
    SIZES,
    SoraDurationWarning,
    VideoParams,
    build_params,
    normalize_model,
    normalize_prompt,
    normalize_seconds,
    normalize_size,
    round_seconds,
)
from sora_nb._prompt import ENHANCEMENT
from sora_nb._reference import ReferenceImage, load_reference


def _refused(param: str, call: object, /, *args: object, **kwargs: object) -> SoraParameterError:
    """Call and check the error names ``param`` and shows the value; return the error."""
    assert callable(call)
    with pytest.raises(SoraParameterError) as info:
        call(*args, **kwargs)
    err = info.value
    assert err.param == param
    assert str(err).startswith(f"{param}=")
    return err


# -- model ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        (None, "sora-2"),
        ("sora-2", "sora-2"),
        (" Sora-2-Pro ", "sora-2-pro"),
        ("sora-2-2025-10-06", "sora-2-2025-10-06"),
        ("sora-2-pro-2025-10-06", "sora-2-pro-2025-10-06"),
    ],
)
def test_known_models(given_: object, expected: str) -> None:
    assert normalize_model(given_) == expected


@pytest.mark.parametrize("bad", ["sora-3", "", "   ", "sora-2-2025-1-6", 2, ["sora-2"]])
def test_unknown_models_are_refused_listing_allowed(bad: object) -> None:
    err = _refused("model", normalize_model, bad)
    assert repr(bad) in str(err)
    assert "'sora-2'" in str(err) and "'sora-2-pro'" in str(err)


def test_custom_models_need_the_generic_profile() -> None:
    err = _refused("model", normalize_model, "wan2.2")
    assert "profile='generic'" in str(err)  # says how to use a server's own model names


# -- seconds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.1, 4), (4, 4), (5.99, 4), (6, 8), (7, 8), (8, 8), (9.9, 8), (10, 12), (12, 12), (99, 12)],
)
def test_round_seconds(value: float, expected: int) -> None:
    assert round_seconds(value) == expected


@given(st.floats(allow_nan=False, min_value=-1e9, max_value=1e9))
def test_round_seconds_is_nearest_with_ties_up(value: float) -> None:
    result = round_seconds(value)
    assert result in SECONDS
    best = min(abs(s - value) for s in SECONDS)
    assert abs(result - value) == best
    assert result == max(s for s in SECONDS if abs(s - value) == best)


@pytest.mark.parametrize(("value", "expected"), [(4, 4), (8.0, 8), ("12", 12), (" 8 ", 8)])
def test_exact_seconds_do_not_warn(value: object, expected: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalize_seconds(value) == expected


def test_rounded_seconds_warn_naming_both_values_at_the_caller() -> None:
    with pytest.warns(SoraDurationWarning) as record:
        assert normalize_seconds(7) == 8
    (warning,) = _ours(record)
    assert str(warning.message) == "seconds=7 is not a Sora duration; using 8 (allowed: 4, 8, 12)"
    assert warning.filename == __file__
    with pytest.warns(SoraDurationWarning, match=r"seconds=7\.5 .* using 8"):
        assert normalize_seconds("7.5") == 8


def test_build_params_warning_points_at_the_caller_too() -> None:
    with pytest.warns(SoraDurationWarning) as record:
        build_params("a cat", seconds=3)
    (warning,) = _ours(record)
    assert warning.filename == __file__


def _ours(record: pytest.WarningsRecorder) -> list[warnings.WarningMessage]:
    """The SoraDurationWarnings among ``record``: pytest.warns records every warning, also
    those a job still polling from an earlier test raises on the runtime thread."""
    return [w for w in record if issubclass(w.category, SoraDurationWarning)]


def test_none_seconds_is_the_default() -> None:
    assert normalize_seconds(None) == 8


@pytest.mark.parametrize(
    "bad", [True, False, 0, -4, -0.5, math.nan, math.inf, -math.inf, "nan", "inf", "eight",
            "", [8], 10**400, "1e999"],
)
def test_bad_seconds_are_refused(bad: object) -> None:
    err = _refused("seconds", normalize_seconds, bad)
    assert "4, 8 or 12" in str(err)


@given(st.one_of(st.booleans(), st.floats(max_value=0), st.integers(max_value=0),
                 st.just(math.nan), st.floats(min_value=0).map(lambda f: f"-{f}")))
def test_normalize_seconds_never_accepts_bools_nan_or_non_positive(bad: object) -> None:
    _refused("seconds", normalize_seconds, bad)


# -- size ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_", "expected"),
    [(None, DEFAULT_SIZE), ("1280x720", "1280x720"), ("1280X720", "1280x720"),
     (" 720 x 1280 ", "720x1280"), ((1280, 720), "1280x720"), ([720, 1280], "720x1280")],
)
def test_sizes(given_: object, expected: str) -> None:
    assert normalize_size(given_, "sora-2") == expected


@pytest.mark.parametrize("bad", ["1920x1080", "1280", "x", (1280,), (True, 720), 1280, 1.5])
def test_bad_sizes_are_refused(bad: object) -> None:
    err = _refused("size", normalize_size, bad, "sora-2")
    assert all(s in str(err) for s in SIZES)


@pytest.mark.parametrize("size", ["1024x1792", "1792x1024"])
def test_pro_only_sizes(size: str) -> None:
    assert normalize_size(size, "sora-2-pro") == size
    assert normalize_size(size, "sora-2-pro-2025-10-06") == size
    assert normalize_size(size, "my-server-model") == size
    err = _refused("size", normalize_size, size, "sora-2")
    assert "needs model='sora-2-pro'" in str(err)


# -- prompt --------------------------------------------------------------------------------


def test_prompt_is_stripped_and_bounded() -> None:
    assert normalize_prompt("  a cat \n") == "a cat"
    assert len(normalize_prompt("x" * MAX_PROMPT_CHARS)) == MAX_PROMPT_CHARS
    err = _refused("prompt", normalize_prompt, "x" * (MAX_PROMPT_CHARS + 1))
    assert "32,001" in str(err)
    _refused("prompt", normalize_prompt, " \t\n")
    _refused("script", normalize_prompt, None, param="script")


# -- reference image -----------------------------------------------------------------------


def _image_file(tmp_path: Path, name: str, fmt: str, size: tuple[int, int]) -> Path:
    path = tmp_path / name
    Image.new("RGB", size, (200, 30, 30)).save(path, format=fmt)
    return path


@pytest.mark.parametrize(
    ("fmt", "name", "mime"),
    [("PNG", "a.png", "image/png"), ("JPEG", "a.jpg", "image/jpeg"),
     ("WEBP", "a.webp", "image/webp")],
)
def test_matching_images_pass_through_unchanged(
    tmp_path: Path, fmt: str, name: str, mime: str
) -> None:
    path = _image_file(tmp_path, name, fmt, (1280, 720))
    ref = load_reference(path, "1280x720")
    assert ref.data == path.read_bytes()
    assert (ref.mime, ref.filename, ref.size) == (mime, name, "1280x720")
    assert ref.sha256 == hashlib.sha256(ref.data).hexdigest()
    assert load_reference(str(path), "1280x720") == ref
    assert load_reference(path.read_bytes(), "1280x720").data == ref.data
    assert "data=" not in repr(ref)


def test_size_mismatch_names_both_sizes_and_suggests_fit(tmp_path: Path) -> None:
    path = _image_file(tmp_path, "small.png", "PNG", (640, 480))
    err = _refused("input_reference", load_reference, path, "1280x720")
    assert "640x480" in str(err) and "1280x720" in str(err)
    assert "fit='crop'" in str(err) and "fit='pad'" in str(err)


@pytest.mark.parametrize("fit", ["crop", "pad"])
@pytest.mark.parametrize("source", [(640, 480), (300, 900), (4000, 100), (1, 5000)])
@pytest.mark.parametrize("target", ["1280x720", "720x1280"])
def test_fit_gives_exact_size_png(
    tmp_path: Path, fit: str, source: tuple[int, int], target: str
) -> None:
    path = _image_file(tmp_path, "src.jpg", "JPEG", source)
    ref = load_reference(path, target, fit=fit)  # type: ignore[arg-type]
    with Image.open(io.BytesIO(ref.data)) as out:
        assert out.format == "PNG"
        assert f"{out.width}x{out.height}" == target == ref.size
    assert (ref.mime, ref.filename) == ("image/png", "src.png")


def test_crop_keeps_the_centre_and_pad_letterboxes_in_black(tmp_path: Path) -> None:
    img = Image.new("RGB", (800, 800), (255, 255, 255))  # white square, red middle band
    img.paste((255, 0, 0), (0, 300, 800, 500))
    cropped = load_reference(img, "1280x720", fit="crop")
    padded = load_reference(img, "1280x720", fit="pad")
    with Image.open(io.BytesIO(cropped.data)) as out:
        assert out.getpixel((640, 360)) == (255, 0, 0)
        assert out.getpixel((640, 5)) == (255, 255, 255)
    with Image.open(io.BytesIO(padded.data)) as out:
        assert out.getpixel((5, 360)) == (0, 0, 0)  # left bar
        assert out.getpixel((1275, 360)) == (0, 0, 0)  # right bar
        assert out.getpixel((640, 5)) == (255, 255, 255)  # the image, scaled to 720 high


def test_gif_is_refused_unless_fit_converts_it(tmp_path: Path) -> None:
    path = _image_file(tmp_path, "anim.gif", "GIF", (1280, 720))
    err = _refused("input_reference", load_reference, path, "1280x720")
    assert "GIF" in str(err)
    ref = load_reference(path, "1280x720", fit="pad")
    assert (ref.mime, ref.filename, ref.size) == ("image/png", "anim.png", "1280x720")


def test_pil_images_are_png_encoded() -> None:
    ref = load_reference(Image.new("RGBA", (720, 1280)), "720x1280")
    assert ref.mime == "image/png" and ref.data.startswith(b"\x89PNG")
    _refused("input_reference", load_reference, Image.new("L", (10, 10)), "720x1280")


def test_reference_image_is_reused_or_refit() -> None:
    ref = load_reference(Image.new("RGB", (1280, 720)), "1280x720")
    assert load_reference(ref, "1280x720") is ref
    assert load_reference(ref, "720x1280", fit="crop").size == "720x1280"


def test_bad_references(tmp_path: Path) -> None:
    err = _refused("input_reference", load_reference, tmp_path / "missing.png", "1280x720")
    assert "no such file" in str(err) and "missing.png" in str(err)
    _refused("input_reference", load_reference, tmp_path, "1280x720")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    err = _refused("input_reference", load_reference, tmp_path / "junk.png", "1280x720")
    assert "cannot decode" in str(err)
    _refused("input_reference", load_reference, b"", "1280x720")
    _refused("input_reference", load_reference, 42, "1280x720")
    _refused("fit", load_reference, b"", "1280x720", fit="stretch")
    _refused("size", load_reference, b"", "big")


# -- VideoParams ---------------------------------------------------------------------------


def test_build_params_defaults_and_enhancement() -> None:
    params = build_params("  Explain recursion  ")
    assert params.original_prompt == "Explain recursion"
    assert params.prompt.startswith(params.original_prompt)
    assert params.prompt.endswith(ENHANCEMENT)
    assert (params.model, params.seconds, params.size, params.reference) == (
        "sora-2", 8, DEFAULT_SIZE, None)
    plain = build_params("Explain recursion", enhance=False)
    assert plain.prompt == plain.original_prompt == "Explain recursion"
    _refused("enhance", build_params, "a cat", enhance="yes")
    _refused("model", build_params, "a cat", model="veo")
    assert build_params("a cat", model="x-1", profile="generic").model == "x-1"


def test_create_kwargs_match_the_sdk(tmp_path: Path) -> None:
    path = _image_file(tmp_path, "ref.png", "PNG", (1792, 1024))
    params = build_params("a cat", model="sora-2-pro", seconds=12, size=(1792, 1024),
                          input_reference=path)
    kwargs = params.create_kwargs()
    assert kwargs == {
        "prompt": "a cat", "model": "sora-2-pro", "seconds": "12", "size": "1792x1024",
        "input_reference": ("ref.png", path.read_bytes(), "image/png"),
    }
    assert "input_reference" not in build_params("a cat").create_kwargs()


def test_cache_key_covers_every_parameter_and_the_backend() -> None:
    red = ReferenceImage(b"r", "image/png", "r.png", "aa", "1280x720")
    blue = ReferenceImage(b"b", "image/png", "b.png", "bb", "1280x720")
    base = VideoParams("p", "p", "sora-2", 8, "1280x720", None)
    variants = [
        base, VideoParams("q", "p", "sora-2", 8, "1280x720", None),
        VideoParams("p", "p", "sora-2-pro", 8, "1280x720", None),
        VideoParams("p", "p", "sora-2", 4, "1280x720", None),
        VideoParams("p", "p", "sora-2", 8, "720x1280", None),
        VideoParams("p", "p", "sora-2", 8, "1280x720", red),
        VideoParams("p", "p", "sora-2", 8, "1280x720", blue),
    ]
    keys = {v.cache_key("local") for v in variants} | {base.cache_key("https://api.openai.com")}
    assert len(keys) == len(variants) + 1
    assert base.cache_key("local") == VideoParams("p", "p", "sora-2", 8, "1280x720").cache_key(
        "local")
    assert len(base.cache_key("local")) == 64


def test_a_lone_surrogate_in_a_prompt_is_a_typed_error() -> None:
    with pytest.raises(SoraParameterError) as info:
        normalize_prompt("A cat \ud800 on a piano")
    assert info.value.param == "prompt" and "lone surrogate" in str(info.value)
    assert normalize_prompt("A cat 🐱 on a piano") == "A cat 🐱 on a piano"
