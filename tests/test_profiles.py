"""Tests of sora_nb._profiles and the profile-aware build_params: the generic profile's
model, seconds and size rules, ``extra=`` fields, and which profile a backend gets."""

from __future__ import annotations

import json
import math
import warnings

import pytest

from sora_nb._errors import SoraParameterError
from sora_nb._params import SoraDurationWarning, build_params
from sora_nb._profiles import (
    CORE_PARAMS,
    check_profile,
    extra_form_fields,
    normalize_extra,
    normalize_generic_model,
    normalize_generic_seconds,
    normalize_generic_size,
    profile_for_url,
)


def _refused(param: str, call: object, /, *args: object, **kwargs: object) -> SoraParameterError:
    assert callable(call)
    with pytest.raises(SoraParameterError) as info:
        call(*args, **kwargs)
    assert info.value.param == param and str(info.value).startswith(f"{param}=")
    return info.value


def test_generic_models_are_any_name_kept_as_written() -> None:
    assert normalize_generic_model(" Wan-AI/Wan2.2-T2V-A14B-Diffusers ") == (
        "Wan-AI/Wan2.2-T2V-A14B-Diffusers")
    assert normalize_generic_model(None) is None  # the server's own model
    for bad in ("", "  ", 7, "x" * 257):
        _refused("model", normalize_generic_model, bad)


@pytest.mark.parametrize(("given_", "sent"), [(7, 7), ("7", 7), (" 5 ", 5), (3.0, 3), (1, 1),
                                              (None, None), (120, 120)])
def test_generic_seconds_are_sent_as_given_without_rounding(given_: object, sent: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SoraDurationWarning: nothing is rounded
        assert normalize_generic_seconds(given_) == sent


@pytest.mark.parametrize("bad", [7.5, "7.5", 0, -4, True, math.nan, math.inf, "four", [8],
                                 86_401])
def test_generic_seconds_refuse_what_is_not_a_whole_positive_number(bad: object) -> None:
    err = _refused("seconds", normalize_generic_seconds, bad)
    assert "never rounded" in str(err)


def test_generic_sizes_are_any_wxh() -> None:
    assert normalize_generic_size("832x480") == "832x480"
    assert normalize_generic_size(" 832 X 480 ") == "832x480"
    assert normalize_generic_size((480, 832)) == "480x832"
    assert normalize_generic_size(None) is None
    for bad in ("0x480", "832", "832x480x3", (832, True), (832,), 832, "99999x1"):
        _refused("size", normalize_generic_size, bad)


def test_extra_is_checked_sorted_and_none_dropped() -> None:
    extra = {"seed": 7, "negative_prompt": "blurry", "num_inference_steps": 30,
             "guidance_scale": None, "lora": {"name": "a", "scale": 0.5}}
    clean = normalize_extra(extra)
    assert list(clean) == ["lora", "negative_prompt", "num_inference_steps", "seed"]
    assert normalize_extra(None) == {}
    for key in sorted(CORE_PARAMS):
        err = _refused("extra", normalize_extra, {key: 1})
        assert f"pass {key}=" in str(err)
    assert "not JSON-serialisable" in str(_refused("extra", normalize_extra, {"x": object()}))
    assert "not JSON-serialisable" in str(_refused("extra", normalize_extra, {"x": math.nan}))
    assert "not a field name" in str(_refused("extra", normalize_extra, {"a b": 1}))
    assert "not a field name" in str(_refused("extra", normalize_extra, {3: 1}))
    _refused("extra", normalize_extra, [("seed", 7)])


def test_extra_objects_go_as_json_text_in_the_form() -> None:
    fields = extra_form_fields({"seed": 7, "generate_sound": True,
                                "extra_params": {"b": 1, "a": [1, 2]}})
    assert fields["seed"] == 7 and fields["generate_sound"] is True
    assert json.loads(fields["extra_params"]) == {"a": [1, 2], "b": 1}


def test_profile_names_and_which_backend_gets_which() -> None:
    assert check_profile("generic") == "generic" and check_profile(None) is None
    _refused("profile", check_profile, "vllm")
    assert profile_for_url("https://api.openai.com/v1") == "sora"
    assert profile_for_url("http://127.0.0.1:8091/v1") == "generic"
    assert profile_for_url("http://127.0.0.1:8091/v1", embedded=True) == "sora"


def test_build_params_generic_sends_what_was_given_and_extra() -> None:
    params = build_params("a fox", model="wan2.2", seconds=7, size="832x480", enhance=False,
                          profile="generic", extra={"seed": 7, "negative_prompt": "blurry"})
    kwargs = params.create_kwargs()
    assert kwargs["model"] == "wan2.2" and kwargs["seconds"] == "7" and kwargs["size"] == "832x480"
    assert kwargs["extra_body"] == {"negative_prompt": "blurry", "seed": 7}
    bare = build_params("a fox", model=None, seconds=None, profile="generic").create_kwargs()
    assert set(bare) == {"prompt"}  # the server's defaults for the rest


def test_build_params_sora_profile_still_rounds_and_checks() -> None:
    with pytest.warns(SoraDurationWarning):
        assert build_params("a fox", seconds=7).seconds == 8
    _refused("model", build_params, "a fox", model="wan2.2")
    _refused("size", build_params, "a fox", size="832x480")
    _refused("profile", build_params, "a fox", profile="veo")


def test_extra_and_profile_change_the_cache_key_but_plain_requests_keep_theirs() -> None:
    plain = build_params("a fox")
    assert plain.cache_key("b") == build_params("a fox", extra={}).cache_key("b")
    keys = {
        plain.cache_key("b"),
        build_params("a fox", extra={"seed": 7}).cache_key("b"),
        build_params("a fox", extra={"seed": 8}).cache_key("b"),
        build_params("a fox", model="sora-2", seconds=8, size="1280x720",
                     profile="generic").cache_key("b"),
    }
    assert len(keys) == 4
    # key order does not matter
    one = build_params("a fox", extra={"seed": 7, "fps": 16}).cache_key("b")
    assert one == build_params("a fox", extra={"fps": 16, "seed": 7}).cache_key("b")


def test_generic_reference_url_goes_as_image_reference_json() -> None:
    url = "https://example.com/face.png"
    params = build_params("a face", profile="generic", input_reference=url)
    assert params.reference is None and params.reference_url == url
    body = params.create_kwargs()["extra_body"]
    assert json.loads(body["image_reference"]) == {"image_url": url}
    _refused("extra", build_params, "a face", profile="generic", input_reference=url,
             extra={"image_reference": {"image_url": url}})
    # on the sora profile a URL is not a file
    _refused("input_reference", build_params, "a face", input_reference=url)


def test_generic_reference_file_without_size_keeps_its_own_size(tmp_path: object) -> None:
    from PIL import Image

    img = Image.new("RGB", (832, 480), (200, 10, 10))
    params = build_params("a face", profile="generic", input_reference=img)
    assert params.reference is not None and params.reference.size == "832x480"
    assert "size" not in params.create_kwargs()
    _refused("fit", build_params, "a face", profile="generic", input_reference=img, fit="crop")
    sized = build_params("a face", profile="generic", size="416x240", input_reference=img,
                         fit="crop")
    assert sized.reference is not None and sized.reference.size == "416x240"
