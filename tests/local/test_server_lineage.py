"""Remix, edit and extension through the SDK: the new job's lineage fields, its parameters
taken from the source, and its rendered file (decoded: size, stitched length, audio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import Video

from sora_nb._ffmpeg import probe

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ONE_FRAME = 1 / 24 + 1e-6


def by_id(video_id: str) -> dict[str, Any]:
    """``video={"id": ...}`` for edit/extend. openai 3.57 refuses a dict for ``video`` (it
    expects a file there), so the reference travels as extra_body, sent as ``video[id]``."""
    return {"video": openai.omit, "extra_body": {"video": {"id": video_id}}}


def decoded(client: openai.OpenAI, video: Video, path: Path) -> tuple[str | None, float, bool]:
    client.videos.download_content(video.id).write_to_file(path)
    info = probe(path, decode=True)
    assert info.decoded_duration is not None
    return info.size, info.decoded_duration, info.has_audio


def test_remix_keeps_the_source_parameters(client: openai.OpenAI, clip: Video,
                                           tmp_path: Path) -> None:
    remix = client.videos.remix(clip.id, prompt="The same kite at night")
    assert remix.remixed_from_video_id == clip.id
    assert (remix.model, remix.size, remix.seconds) == (clip.model, clip.size, clip.seconds)
    assert remix.prompt == "The same kite at night" and remix.status == "queued"
    done = client.videos.poll(remix.id)
    assert done.status == "completed", done.error
    size, seconds, audio = decoded(client, done, tmp_path / "remix.mp4")
    assert size == clip.size and abs(seconds - 4.0) <= ONE_FRAME and audio


def test_edit_keeps_the_source_parameters(client: openai.OpenAI, clip: Video,
                                          tmp_path: Path) -> None:
    edit = client.videos.edit(prompt="Add a second kite", **by_id(clip.id))
    assert (edit.model, edit.size, edit.seconds) == (clip.model, clip.size, clip.seconds)
    assert edit.remixed_from_video_id is None
    done = client.videos.poll(edit.id)
    assert done.status == "completed", done.error
    size, seconds, audio = decoded(client, done, tmp_path / "edit.mp4")
    assert size == clip.size and abs(seconds - 4.0) <= ONE_FRAME and audio


def test_extension_reports_and_renders_the_stitched_total(
    client: openai.OpenAI, clip: Video, tmp_path: Path
) -> None:
    extension = client.videos.extend(prompt="The kite flies away", seconds="4", **by_id(clip.id))
    assert extension.seconds == "8"  # 4 s source + 4 s new, as a string like the API
    assert (extension.model, extension.size) == (clip.model, clip.size)
    done = client.videos.poll(extension.id)
    assert done.status == "completed", done.error
    size, seconds, audio = decoded(client, done, tmp_path / "extended.mp4")
    assert size == clip.size and abs(seconds - 8.0) <= ONE_FRAME and audio
