"""Ids are data, never paths: hostile ids are refused with typed errors, real ones (short
OpenAI ids, LiteLLM's 266-character base64 ids) pass, and every id gives one safe, bounded
folder name inside the cache dir."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from sora_nb import _store
from sora_nb._errors import SoraParameterError, SoraProtocolError
from sora_nb._ids import (
    MAX_ID_CHARS,
    check_server_id,
    check_user_id,
    id_problem,
    inside,
    path_segment,
    url_segment,
)

# As LiteLLM builds them (litellm/videos/utils.py): "video_" + standard base64, which may
# hold "+", "/" and "=".
LITELLM_ID = "video_" + base64.b64encode(
    b"\xfb\xff\xfe\xf8litellm:custom_llm_provider:openai;model_id:" + b"x" * 140
).decode()
HOSTILE = ["", "..", ".", "../../victim", "/etc/passwd", "a/../b", "a\\b", "vid\x00eo",
           "vid\neo", "video id", "vidé", "%2e%2e", "a/%2E/b", "x" * (MAX_ID_CHARS + 1),
           "x" * 10_000]


def test_real_ids_pass() -> None:
    assert len(LITELLM_ID) > 250 and {"+", "/", "="} <= set(LITELLM_ID)
    for real in ("video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5",
                 "video_gen_0123456789abcdef0123456789abcdef", LITELLM_ID, "a", "x" * 1024):
        assert id_problem(real) is None, real
        assert check_server_id(real, server="s") == real
        assert check_user_id(real) == real


@pytest.mark.parametrize("bad", [*HOSTILE, None, 42, b"video_1"])
def test_hostile_ids_are_refused_with_typed_errors(bad: object) -> None:
    assert id_problem(bad) is not None
    with pytest.raises(SoraProtocolError, match="gateway answered with an unusable id"):
        check_server_id(bad, server="gateway")
    with pytest.raises(SoraParameterError) as info:
        check_user_id(bad)
    assert info.value.param == "video_id"
    assert len(str(info.value)) < 600  # a 10 kB id is not echoed whole


@pytest.mark.parametrize("video_id", [*HOSTILE, LITELLM_ID, "CON", "nul", "video_ok"])
def test_every_id_gives_one_safe_bounded_segment(video_id: str, tmp_path: Path) -> None:
    segment = path_segment(video_id)
    assert 1 <= len(segment) <= 64
    assert set(segment) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
    assert not segment.startswith(".") and segment not in (".", "..")
    target = tmp_path / segment
    assert target.parent == tmp_path
    assert inside(tmp_path, target) == target


def test_segments_keep_plain_ids_and_a_readable_prefix() -> None:
    assert path_segment("video_abc123") == "video_abc123"  # today's cache layout kept
    long = path_segment(LITELLM_ID)
    assert long.startswith("video_") and "." in long
    assert len({path_segment(i) for i in [*HOSTILE, LITELLM_ID, LITELLM_ID + "A"]}) == len(
        HOSTILE) + 2
    # a plain id can never take the name of a hashed one: hashed names hold a "."
    assert path_segment(long.replace(".", "_")) != long


def test_url_segments_are_percent_encoded() -> None:
    assert url_segment("video_a/b+c==") == "video_a%2Fb+c=="
    assert "/" not in url_segment(LITELLM_ID)


def test_inside_refuses_escapes_and_symlinks_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(SoraProtocolError, match="outside"):
        inside(root, root / ".." / "victim")
    os.symlink(tmp_path, root / "link")
    with pytest.raises(SoraProtocolError, match="outside"):
        inside(root, root / "link" / "victim")


def test_media_paths_of_any_id_stay_in_the_cache(cache: Path) -> None:
    for video_id in [*HOSTILE, LITELLM_ID]:
        path = _store.media_path(video_id, "video")
        assert path.resolve().parent.parent == (cache / "media").resolve()


def test_show_copies_get_bounded_names_inside_sora_nb_media(tmp_path: Path) -> None:
    from sora_nb._show import MEDIA_DIR, publish_media

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    src = elsewhere / ("a very long name, with spaces & odd chars " * 5 + ".MP4")[-250:]
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    notebook = tmp_path / "nb"
    notebook.mkdir()
    rel = publish_media(src, base=notebook)
    target = notebook / rel
    assert target.parent == notebook / MEDIA_DIR and target.suffix == ".mp4"
    assert len(target.name) <= 100 and target.read_bytes() == src.read_bytes()
