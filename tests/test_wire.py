"""Server answers are read leniently: odd, missing or null fields never raise."""

from __future__ import annotations

import pytest
from openai._models import construct_type
from openai.types import Video

from sora_nb._wire import (
    entry_from_video,
    error_of,
    progress_of,
    seconds_of,
    status_of,
    text_of,
    time_of,
)


def video(**fields: object) -> Video:
    # built exactly as the SDK builds a response body: without validation
    return construct_type(type_=Video, value={"id": "video_1", **fields})  # type: ignore[no-any-return]


@pytest.mark.parametrize(("value", "seconds"), [
    (8, 8), ("8", 8), ("4.0", 4), (4.0, 4), (" 12 ", 12), ("8s", 8), (None, 0), ("soon", 0),
    (True, 0), (float("nan"), 0), ([4], 0), (-3, 0),
])
def test_seconds(value: object, seconds: int) -> None:
    assert seconds_of(value) == seconds


@pytest.mark.parametrize(("value", "progress"), [
    (None, None), (42, 42), ("42", 42), ("42%", 42), (142, 100), (-1, 0), (37.9, 37),
    ("much", None), ({}, None),
])
def test_progress(value: object, progress: int | None) -> None:
    assert progress_of(value) == progress


def test_text_time_status_error() -> None:
    assert (text_of(None), text_of(7), text_of("x")) == ("", "7", "x")
    assert (time_of("soon"), time_of(12), time_of(-5), time_of("1.5")) == (None, 12.0, None, 1.5)
    assert (status_of(None), status_of(" processing ")) == ("unknown", "processing")
    assert error_of(video(error={"code": 500, "message": None})) == ("500", None)
    assert error_of(video()) == (None, None)


def test_an_off_spec_answer_still_makes_a_journal_entry() -> None:
    odd = video(seconds="4.0", progress=None, created_at="soon", status=None, model=None,
                extra_field={"nested": [1, 2]}, error="not an object")
    entry = entry_from_video(odd, video_id="video_1", backend="b", original_prompt="mine",
                             kind="create", cache_key="ck", idempotency_key="k")
    assert (entry.id, entry.seconds, entry.progress, entry.status) == ("video_1", 4, 0, "unknown")
    assert (entry.prompt, entry.original_prompt, entry.model) == ("mine", "mine", "")
    assert entry.created_at > 0 and entry.error_code is None
