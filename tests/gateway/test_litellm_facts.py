"""What a real LiteLLM 1.110.2 proxy does in front of the embedded backend, recorded as
facts about the proxy (not about sora_nb): ids, statuses, headers, downloads, remix, list,
delete, Idempotency-Key and errors. sora_nb's gateway dialect (sora_nb/local) reproduces
them; tests of sora_nb's own behaviour through the proxy can reuse ``litellm_proxy``."""

from __future__ import annotations

import base64
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai.types import Video

from sora_nb.local import MODERATION_MARKER

from .conftest import CLIP, LITELLM_VERSION, GatewayProxy

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

#: LiteLLM's encoding of a managed video id: "video_" + base64 of this text
#: (litellm/types/utils.py SpecialEnums.LITELLM_MANAGED_VIDEO_COMPLETE_STR plus the
#: deployment, litellm/types/videos/utils.py encode_video_id_with_provider).
DECODED = re.compile(
    r"^litellm:custom_llm_provider:openai;model_id:sora-2;video_id:(video_[0-9a-f]+);"
    r"deployment_id:([0-9a-f]{64})$"
)
MP4, WEBP, JPEG = b"ftyp", b"WEBP", b"\xff\xd8\xff"
#: Jobs that fail upstream at 30 % of their time and are never rendered (costs no CPU).
UNRENDERED = f"{MODERATION_MARKER} a gateway probe"


def _upstream_id(video_id: str) -> str:
    match = DECODED.match(base64.b64decode(video_id.removeprefix("video_")).decode())
    assert match is not None, video_id
    return match.group(1)


@pytest.fixture(scope="module")
def http(litellm_proxy: GatewayProxy) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=litellm_proxy.base_url, headers=litellm_proxy.headers,
                       timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def client(litellm_proxy: GatewayProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=litellm_proxy.base_url, api_key=litellm_proxy.master_key,
                         max_retries=0)


@pytest.fixture(scope="module")
def clip(http: httpx2.Client) -> dict[str, Any]:
    """A clip created through the proxy and polled to completion, with every status and
    every response's headers seen on the way."""
    created = http.post("/videos", json=CLIP)
    assert created.status_code == 200, created.text
    body = created.json()
    statuses, headers = [body["status"]], [created.headers]
    deadline = time.monotonic() + 60
    while body["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        polled = http.get(f"/videos/{body['id']}")
        assert polled.status_code == 200, polled.text
        body = polled.json()
        statuses.append(body["status"])
        headers.append(polled.headers)
    assert body["status"] == "completed", body
    return {"created": created.json(), "final": body, "statuses": statuses,
            "headers": headers}


def test_the_proxy_is_the_pinned_version(clip: dict[str, Any]) -> None:
    assert clip["headers"][0]["x-litellm-version"] == LITELLM_VERSION


def test_ids_are_video_plus_base64_of_provider_model_upstream_id_and_deployment(
    clip: dict[str, Any], litellm_proxy: GatewayProxy
) -> None:
    video_id = clip["created"]["id"]
    # 266 characters with the embedded backend's 54-character ids; padded with "=="
    assert (len(video_id), video_id[-2:]) == (266, "==")
    upstream = _upstream_id(video_id)
    assert litellm_proxy.upstream.content_url(upstream)  # a real id of the upstream server
    assert clip["final"]["id"] == video_id  # retrieve answers the same encoded id


def test_prompt_is_dropped_and_usage_added_on_create_only(clip: dict[str, Any]) -> None:
    created, final = clip["created"], clip["final"]
    assert "prompt" not in created and "prompt" not in final
    assert created["usage"] == {"duration_seconds": 4.0}
    assert final["usage"] is None
    assert (final["model"], final["seconds"], final["size"]) == ("sora-2", "4", "720x1280")
    assert final["expires_at"] == final["created_at"] + 24 * 3600  # passed through


def test_statuses_and_progress_pass_through_unchanged(clip: dict[str, Any]) -> None:
    # in front of an OpenAI-style upstream the proxy does not rename in_progress (its Veo
    # transformation is what reports "processing")
    assert set(clip["statuses"]) <= {"queued", "in_progress", "completed"}
    assert "in_progress" in clip["statuses"]
    assert clip["final"]["progress"] == 100


def test_poll_hints_retry_after_and_etag_are_dropped(
    clip: dict[str, Any], litellm_proxy: GatewayProxy
) -> None:
    upstream = httpx2.get(
        f"{litellm_proxy.upstream.base_url}/videos/{_upstream_id(clip['created']['id'])}",
        headers={"Authorization": f"Bearer {litellm_proxy.upstream.api_key}"},
    )
    assert upstream.status_code == 200
    for headers in clip["headers"]:
        for name in ("openai-poll-after-ms", "retry-after", "retry-after-ms", "etag"):
            assert name not in headers
    # the upstream did send poll hints while the job ran (its create response had one)
    assert clip["created"]["status"] != "completed"


def test_every_variant_downloads_the_mp4(clip: dict[str, Any], http: httpx2.Client,
                                         litellm_proxy: GatewayProxy) -> None:
    video_id = clip["created"]["id"]
    bodies = {}
    for variant in ("video", "thumbnail", "spritesheet"):
        response = http.get(f"/videos/{video_id}/content", params={"variant": variant})
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp4"
        bodies[variant] = response.content
    assert bodies["video"][4:8] == MP4
    assert bodies["thumbnail"] == bodies["spritesheet"] == bodies["video"]
    # while the upstream itself has a real WebP thumbnail and JPEG spritesheet
    key = {"Authorization": f"Bearer {litellm_proxy.upstream.api_key}"}
    upstream = _upstream_id(video_id)
    thumb = httpx2.get(litellm_proxy.upstream.content_url(upstream, "thumbnail"), headers=key)
    sheet = httpx2.get(litellm_proxy.upstream.content_url(upstream, "spritesheet"), headers=key)
    assert thumb.content[8:12] == WEBP and sheet.content[:3] == JPEG


def test_remix_reports_the_raw_upstream_id_which_the_proxy_cannot_route(
    clip: dict[str, Any], http: httpx2.Client
) -> None:
    source = clip["created"]["id"]
    response = http.post(f"/videos/{source}/remix", json={"prompt": UNRENDERED})
    assert response.status_code == 200, response.text
    remix = response.json()
    assert DECODED.match(base64.b64decode(remix["id"][6:]).decode())
    assert remix["remixed_from_video_id"] == _upstream_id(source)  # not the proxy's id
    # that raw id, sent back to the proxy, goes to the default provider (api.openai.com)
    lost = http.get(f"/videos/{remix['remixed_from_video_id']}")
    assert lost.status_code == 500
    assert "api.openai.com" in lost.json()["error"]["message"]


def test_edits_and_extensions_pass_through(clip: dict[str, Any], http: httpx2.Client) -> None:
    source = {"id": clip["created"]["id"]}
    edit = http.post("/videos/edits", json={"prompt": UNRENDERED, "video": source})
    extension = http.post("/videos/extensions",
                          json={"prompt": UNRENDERED, "seconds": "4", "video": source})
    assert (edit.status_code, extension.status_code) == (200, 200), extension.text
    assert extension.json()["seconds"] == "8"
    for answer in (edit.json(), extension.json()):
        assert answer["id"].startswith("video_") and answer["id"].endswith("==")
        assert answer["remixed_from_video_id"] is None


def test_list_needs_a_provider(http: httpx2.Client) -> None:
    response = http.get("/videos")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "LLM Provider NOT provided" in error["message"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "400")


def test_delete_is_not_allowed(clip: dict[str, Any], http: httpx2.Client) -> None:
    response = http.delete(f"/videos/{clip['created']['id']}")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET"


def test_idempotency_key_is_not_honoured(http: httpx2.Client,
                                         litellm_proxy: GatewayProxy) -> None:
    before = litellm_proxy.upstream.requests.count("POST", "/v1/videos", 200)
    body = {"model": "sora-2", "prompt": UNRENDERED}
    first = http.post("/videos", json=body, headers={"Idempotency-Key": "same-key"})
    second = http.post("/videos", json=body, headers={"Idempotency-Key": "same-key"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["id"] != second.json()["id"]
    assert litellm_proxy.upstream.requests.count("POST", "/v1/videos", 200) == before + 2


def test_upstream_errors_come_back_wrapped_with_the_status_kept(http: httpx2.Client) -> None:
    response = http.post("/videos", json={"model": "sora-2", "prompt": "x", "seconds": "5"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("litellm.BadRequestError: OpenAIException - ")
    assert "Invalid value for 'seconds'" in error["message"]  # the upstream's own words
    assert (error["param"], error["code"]) == (None, "400")  # not the upstream's param/code
    assert response.headers["llm_provider-content-type"].startswith("application/json")


def test_content_of_an_unfinished_job_is_the_wrapped_upstream_400(http: httpx2.Client) -> None:
    created = http.post("/videos", json={"model": "sora-2", "prompt": UNRENDERED}).json()
    response = http.get(f"/videos/{created['id']}/content")
    assert response.status_code == 400
    assert "video_not_ready" in response.json()["error"]["message"]


def test_failed_jobs_keep_the_upstream_error(http: httpx2.Client) -> None:
    created = http.post("/videos", json={"model": "sora-2", "prompt": UNRENDERED}).json()
    deadline = time.monotonic() + 30
    body = created
    while body["status"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.2)
        body = http.get(f"/videos/{created['id']}").json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "moderation_blocked"


def test_unknown_ids_go_to_the_default_provider(http: httpx2.Client) -> None:
    response = http.get("/videos/video_0123456789abcdef")
    assert response.status_code == 500
    assert "api.openai.com" in response.json()["error"]["message"]


def test_a_wrong_key_without_a_database_is_a_400(litellm_proxy: GatewayProxy) -> None:
    response = httpx2.get(f"{litellm_proxy.base_url}/videos/video_x",
                          headers={"Authorization": "Bearer sk-wrong"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "no_db_connection"


def test_rate_limits_come_back_as_429_without_retry_after(litellm_proxy: GatewayProxy,
                                                          http: httpx2.Client) -> None:
    response = http.post("/videos", json={"model": "sora-2-busy", "prompt": "busy"})
    assert response.status_code == 429, response.text
    assert "retry-after" not in response.headers
    # the proxy retried on its own before giving up
    assert litellm_proxy.busy.requests.count("POST", "/v1/videos", 429) >= 1


def test_the_sdk_creates_and_polls_through_the_proxy(client: openai.OpenAI) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video: Video = client.videos.create(prompt=UNRENDERED, model="sora-2")
    assert video.id.endswith("==") and video.prompt is None
    assert client.videos.retrieve(video.id).id == video.id


def test_an_upstream_404_comes_back_as_a_wrapped_404(http: httpx2.Client,
                                                    litellm_proxy: GatewayProxy) -> None:
    created = http.post("/videos", json={"model": "sora-2", "prompt": UNRENDERED}).json()
    upstream = litellm_proxy.upstream
    gone = httpx2.delete(f"{upstream.base_url}/videos/{_upstream_id(created['id'])}",
                         headers={"Authorization": f"Bearer {upstream.api_key}"})
    assert gone.status_code == 200  # deleted behind the proxy's back (as an expiry would)
    for path in (f"/videos/{created['id']}", f"/videos/{created['id']}/content"):
        response = http.get(path)
        error = response.json()["error"]
        assert (response.status_code, error["code"], error["param"]) == (404, "404", None)
        assert error["message"].startswith("litellm.NotFoundError: OpenAIException - ")


def test_status_checks_of_a_second_deployment_go_to_the_first(
    http: httpx2.Client, litellm_proxy: GatewayProxy
) -> None:
    # two deployments of openai/sora-2: the id says model_id "sora-2" for both, and the
    # proxy sends the status check of the second one's job to the first one
    created = http.post("/videos", json={"model": "sora-2-second", "prompt": UNRENDERED})
    assert created.status_code == 200, created.text
    video_id = created.json()["id"]
    assert "model_id:sora-2;" in base64.b64decode(video_id[6:]).decode()
    assert litellm_proxy.second.requests.count("POST", "/v1/videos", 200) == 1
    before = litellm_proxy.upstream.requests.count("GET", "/v1/videos/{video_id}", 404)
    response = http.get(f"/videos/{video_id}")
    assert response.status_code == 404
    assert "not found" in response.json()["error"]["message"]
    assert litellm_proxy.upstream.requests.count("GET", "/v1/videos/{video_id}", 404) == (
        before + 1)
    assert litellm_proxy.second.requests.count("GET", "/v1/videos/{video_id}") == 0
