"""Every error the local server answers, as the SDK sees it: 400 BadRequestError naming the
parameter, 401 AuthenticationError (never echoing the key), 404 NotFoundError, and the
envelope ``{"error": {message, type, param, code}}`` on raw HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from openai.types import Video

from sora_nb.local import LocalServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def by_id(video_id: str) -> dict[str, Any]:
    """``video={"id": ...}`` for edit/extend. openai 3.57 refuses a dict for ``video`` (it
    expects a file there), so the reference travels as extra_body, sent as ``video[id]``."""
    return {"video": openai.omit, "extra_body": {"video": {"id": video_id}}}


@pytest.mark.parametrize(
    ("kwargs", "param", "shown"),
    [
        ({"size": "640x480"}, "size", "'640x480'"),
        ({"size": "1792x1024"}, "size", "sora-2-pro"),  # a pro-only size with sora-2
        ({"model": "sora-1"}, "model", "'sora-1'"),
        ({"seconds": "5"}, "seconds", "'5'"),
        ({"extra_body": {"style": "noir"}}, "style", "'style'"),
        ({"prompt": ""}, "prompt", "''"),
        ({"prompt": "x" * 32_001}, "prompt", "32001"),
    ],
)
def test_invalid_create_parameters_are_400_naming_param_value_and_allowed(
    client: openai.OpenAI, kwargs: dict[str, Any], param: str, shown: str
) -> None:
    kwargs.setdefault("prompt", "A valid prompt")
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(**kwargs)
    assert err.value.status_code == 400
    assert err.value.param == param
    assert shown in err.value.message
    assert err.value.type == "invalid_request_error"


def test_messages_list_the_allowed_values(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="x", size="640x480")  # type: ignore[arg-type]
    for size in ("720x1280", "1280x720", "1024x1792", "1792x1024"):
        assert size in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="x", seconds="5")  # type: ignore[arg-type]
    assert "'4', '8', '12'" in err.value.message


def test_snapshots_and_pro_sizes_are_accepted(idle_server: LocalServer) -> None:
    client = openai.OpenAI(base_url=idle_server.base_url, api_key=idle_server.api_key)
    from sora_nb.local import MODERATION_MARKER

    video = client.videos.create(prompt=f"{MODERATION_MARKER} pro", model="sora-2-pro-2025-10-06",
                                 size="1792x1024", seconds="12")
    assert (video.model, video.size, video.seconds) == ("sora-2-pro-2025-10-06", "1792x1024", "12")


def test_missing_prompt_and_wrong_types_on_raw_http(server: LocalServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.base_url}/videos"
    body = httpx2.post(url, files={"model": (None, "sora-2")}, headers=headers).json()["error"]
    assert (body["param"], body["code"]) == ("prompt", "missing_required_parameter")
    body = httpx2.post(url, json={"prompt": "x", "seconds": 8}, headers=headers).json()["error"]
    assert body["param"] == "seconds" and "'4', '8', '12'" in body["message"]
    response = httpx2.post(url, content=b"{not json", headers={
        **headers, "Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.videos.retrieve("video_nope"),
        lambda c: c.videos.delete("video_nope"),
        lambda c: c.videos.download_content("video_nope"),
        lambda c: c.videos.remix("video_nope", prompt="again"),
        lambda c: c.videos.edit(prompt="again", **by_id("video_nope")),
        lambda c: c.videos.extend(prompt="again", seconds="4", **by_id("video_nope")),
    ],
    ids=["retrieve", "delete", "content", "remix", "edit", "extend"],
)
def test_unknown_ids_are_404(client: openai.OpenAI, call: Any) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        call(client)
    assert "video_nope" in err.value.message


def test_unknown_variant_is_400_naming_the_allowed_ones(client: openai.OpenAI, clip: Video) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.download_content(clip.id, variant="poster")  # type: ignore[arg-type]
    assert err.value.param == "variant"
    for name in ("'poster'", "video", "thumbnail", "spritesheet"):
        assert name in err.value.message


@pytest.mark.parametrize(
    ("query", "param"),
    [({"limit": -1}, "limit"), ({"limit": 101}, "limit"), ({"order": "up"}, "order"),
     ({"after": "video_nope"}, "after")],
)
def test_bad_list_queries_are_400(client: openai.OpenAI, query: dict[str, Any],
                                  param: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.list(**query)
    assert err.value.param == param


def test_wrong_or_missing_key_is_401_without_echoing_it(server: LocalServer) -> None:
    wrong = "sk-wrong-key-that-must-not-be-echoed-123456"
    client = openai.OpenAI(base_url=server.base_url, api_key=wrong, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        client.videos.list()
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    assert wrong not in str(err.value) and server.api_key not in str(err.value)
    assert err.value.response.text.count(wrong) == 0

    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": server.api_key}):
        response = httpx2.get(f"{server.base_url}/videos", headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "invalid_api_key"
        assert server.api_key not in response.text


def test_unknown_routes_and_methods_use_the_envelope(server: LocalServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    response = httpx2.get(f"{server.base_url}/images", headers=headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = httpx2.put(f"{server.base_url}/videos", headers=headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_source_of_a_derived_video_must_be_completed(idle_server: LocalServer) -> None:
    from sora_nb.local import MODERATION_MARKER

    client = openai.OpenAI(base_url=idle_server.base_url, api_key=idle_server.api_key,
                           max_retries=0)
    running = client.videos.create(prompt=f"{MODERATION_MARKER} still running")
    calls: list[Callable[[], object]] = [
        lambda: client.videos.remix(running.id, prompt="again"),
        lambda: client.videos.edit(prompt="again", **by_id(running.id)),
        lambda: client.videos.extend(prompt="again", seconds="4", **by_id(running.id)),
    ]
    for call in calls:
        with pytest.raises(openai.BadRequestError) as err:
            call()
        assert running.id in err.value.message and "completed" in err.value.message


def test_extension_seconds_and_video_reference_are_checked(
    client: openai.OpenAI, clip: Video
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.extend(prompt="on", seconds="7", **by_id(clip.id))  # type: ignore[arg-type]
    assert err.value.param == "seconds" and "'16', '20'" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.edit(prompt="on", video=b"raw mp4 bytes")  # an upload, not a video
    assert (err.value.param, err.value.code) == ("video", "invalid_video")
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.edit(prompt="on", **by_id(""))
    assert err.value.param == "video" and "{'id': 'video_...'}" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.edit(prompt="on", video=openai.omit)  # type: ignore[arg-type]
    assert (err.value.param, err.value.code) == ("video", "missing_required_parameter")
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.remix(clip.id, prompt="")
    assert err.value.param == "prompt"
