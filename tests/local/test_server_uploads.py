"""Uploaded videos through the real SDK: the characters endpoints and edits/extensions of
an uploaded source video, as openai-python's ``videos`` resource sends them (multipart)."""

from __future__ import annotations

import openai
import pytest
from openai.types import Video

from sora_nb._ffmpeg import MediaInfo, probe

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def clip_bytes(client: openai.OpenAI, clip: Video) -> bytes:
    return client.videos.download_content(clip.id).read()


def test_create_and_get_a_character(client: openai.OpenAI, clip_bytes: bytes) -> None:
    made = client.videos.create_character(name="Kite pilot",
                                          video=("kite.mp4", clip_bytes, "video/mp4"))
    assert made.id is not None and made.id.startswith("char_") and made.name == "Kite pilot"
    got = client.videos.get_character(made.id)
    assert (got.id, got.name, got.created_at) == (made.id, made.name, made.created_at)


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [({"name": "x", "video": b"Example data"}, "video", "invalid_video"),
     ({"name": "", "video": b"Example data"}, "name", "invalid_value"),
     ({"name": "x" * 300, "video": b"Example data"}, "name", "invalid_value")],
)
def test_bad_characters_are_400_naming_the_parameter(client: openai.OpenAI,
                                                      kwargs: dict[str, object], param: str,
                                                      code: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create_character(**kwargs)  # type: ignore[arg-type]
    assert (err.value.param, err.value.code) == (param, code)


@pytest.mark.parametrize(
    "character_id", ["char_0123abcd", "char_nope", "video_x", "a/b", "char_" + "f" * 100]
)
def test_unknown_characters_are_404(client: openai.OpenAI, character_id: str) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.videos.get_character(character_id)
    assert err.value.code == "not_found"


@pytest.mark.slow
def test_edit_an_uploaded_video(client: openai.OpenAI, clip: Video, clip_bytes: bytes) -> None:
    edited = client.videos.edit(prompt="The same hill at night",
                                video=("hill.mp4", clip_bytes, "video/mp4"))
    assert edited.size == clip.size and edited.seconds == clip.seconds
    done = client.videos.poll(edited.id, poll_interval_ms=50)
    assert done.status == "completed", done.error
    path = client.videos.download_content(done.id)
    info = probe_bytes(path.read())
    assert f"{info.width}x{info.height}" == clip.size


def test_extend_an_uploaded_video(client: openai.OpenAI, clip: Video, clip_bytes: bytes) -> None:
    extended = client.videos.extend(prompt="The kite flies on", seconds="4",
                                    video=("hill.mp4", clip_bytes, "video/mp4"))
    assert extended.seconds == str(int(clip.seconds) + 4)
    assert extended.status in ("queued", "in_progress")
    client.videos.delete(extended.id)  # its render is not needed: the edit test renders


def probe_bytes(data: bytes) -> MediaInfo:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v.mp4"
        path.write_bytes(data)
        return probe(path)
