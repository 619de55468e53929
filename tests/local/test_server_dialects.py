"""The local server's dialects through the real openai SDK over real HTTP (raw HTTP where the
SDK would choke): vLLM-Omni, SGLang and a LiteLLM gateway, plus jobs that expire."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import openai
import pytest

from sora_nb._errors import SoraParameterError
from sora_nb._ffmpeg import probe
from sora_nb.local import DIALECTS, MODERATION_MARKER, LocalServer, start
from sora_nb.local._dialect_vllm import VLLM_OMNI_MODEL
from sora_nb.local._render_pipe import decode

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MakeClient = Callable[..., openai.OpenAI]
#: Jobs that stay unfinished on a slow server and are never rendered (see conftest).
UNRENDERED = f"{MODERATION_MARKER} a probe"
#: A small render for the dialects that take any size and frame rate.
SMALL = {"size": "256x144", "fps": "8"}


def _http(server: LocalServer) -> httpx2.Client:
    return httpx2.Client(base_url=server.base_url, timeout=120,
                         headers={"Authorization": f"Bearer {server.api_key}"})


def _wait(http: httpx2.Client, video_id: str, done: tuple[str, ...] = ("completed", "failed"),
          timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = http.get(f"/videos/{video_id}").json()
        if body["status"] in done or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _mp4(tmp_path: Path, data: bytes, name: str) -> Path:
    assert data[4:8] == b"ftyp"
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _first_frame(path: Path, size: tuple[int, int], fps: int) -> np.ndarray:
    for canvas in decode(path, size, fps):
        return canvas.y.astype(np.float32)
    raise AssertionError("no frame")


def test_dialect_and_expire_after_are_checked() -> None:
    assert DIALECTS == ("sora", "vllm-omni", "sglang", "gateway")
    with pytest.raises(SoraParameterError) as err:
        start(dialect="openai")
    assert err.value.param == "dialect" and "'vllm-omni'" in str(err.value)
    with pytest.raises(SoraParameterError) as err:
        start(expire_after=-1)
    assert err.value.param == "expire_after"


# vLLM-Omni ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with start(dialect="vllm-omni", job_seconds=0,
               data_dir=tmp_path_factory.mktemp("vllm")) as srv:
        yield srv


@pytest.fixture(scope="module")
def vllm_http(vllm: LocalServer) -> Iterator[httpx2.Client]:
    with _http(vllm) as http:
        yield http


def test_vllm_sdk_create_with_extensions_renders_them(
    vllm: LocalServer, vllm_http: httpx2.Client, sdk: MakeClient, tmp_path: Path
) -> None:
    client = sdk(vllm)
    video = client.videos.create(
        prompt="A lighthouse at dusk", model="my-own-name", seconds="3", size="256x144",
        extra_body={"fps": 8, "num_frames": 12, "seed": 7, "negative_prompt": "blurry",
                    "num_inference_steps": 30, "guidance_scale": 4.5, "generate_sound": True,
                    "extra_params": '{"flow_shift": 3}'},
    )  # the SDK sends multipart: every extension arrives as a form field
    assert re.fullmatch(r"video_gen_[0-9a-f]{32}", video.id)
    assert vllm.requests.count("POST", "/v1/videos", 200) >= 1
    final = _wait(vllm_http, video.id)
    assert final["status"] == "completed", final
    assert final["model"] == VLLM_OMNI_MODEL  # the served model, whatever was asked
    assert (final["seconds"], final["size"], final["progress"]) == ("3", "256x144", 100)
    assert (final["media_type"], final["file_name"]) == ("video/mp4", f"{video.id}.mp4")
    assert final["inference_time_s"] >= 0 and final["expires_at"] is None
    assert final["quality"] == "default" and final["stage_durations"] == {}
    data = client.videos.download_content(video.id).read()
    info = probe(_mp4(tmp_path, data, "v.mp4"), decode=True)
    # num_frames wins over seconds: 12 frames at 8 fps
    assert (info.width, info.height, info.fps, info.frames) == (256, 144, 8.0, 12)


@pytest.mark.slow
def test_vllm_seed_changes_the_picture_and_is_reproducible(
    vllm_http: httpx2.Client, tmp_path: Path
) -> None:
    ids = []
    for seed in ("1", "2", "1"):
        form = {"prompt": "Seeded waves", "seconds": "1", **SMALL, "seed": seed}
        response = vllm_http.post("/videos", data=form)  # multipart/urlencoded form
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    frames = []
    for i, video_id in enumerate(ids):
        assert _wait(vllm_http, video_id)["status"] == "completed"
        data = vllm_http.get(f"/videos/{video_id}/content").content
        frames.append(_first_frame(_mp4(tmp_path, data, f"{i}.mp4"), (256, 144), 8))
    assert np.abs(frames[0] - frames[1]).mean() > 2.0  # another seed, another picture
    assert np.array_equal(frames[0], frames[2])  # the same seed, the same picture


def test_vllm_json_create_with_an_image_reference(vllm_http: httpx2.Client,
                                                  png: Callable[..., bytes]) -> None:
    url = "data:image/png;base64," + base64.b64encode(png("64x64")).decode()
    body = {"prompt": "From a picture", "seconds": "1", **SMALL, "fps": 8,
            "image_reference": {"image_url": url}}
    response = vllm_http.post("/videos", json=body)
    assert response.status_code == 200, response.text
    assert _wait(vllm_http, response.json()["id"])["status"] == "completed"


@pytest.mark.parametrize(("body", "param"), [
    ({"seconds": "0"}, "seconds"),
    ({"seconds": "4.5"}, "seconds"),
    ({"size": "wide"}, "size"),
    ({"size": "641x480"}, "size"),  # odd: beyond what the local server renders
    ({"num_inference_steps": "500"}, "num_inference_steps"),
    ({"image_reference": '{"file_id": "file_123"}'}, "image_reference"),
    ({"image_reference": "not json"}, "image_reference"),
])
def test_vllm_bad_fields_are_400s_in_vllms_envelope(
    vllm_http: httpx2.Client, body: dict[str, str], param: str
) -> None:
    response = vllm_http.post("/videos", data={"prompt": "x", **body})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("Bad Request", 400)
    assert param in error["message"]


def test_vllm_has_no_remix_edit_or_extend(vllm: LocalServer, sdk: MakeClient) -> None:
    client = sdk(vllm)
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_gen_0", prompt="again")
    for path in ("/videos/edits", "/videos/extensions"):
        response = httpx2.post(vllm.base_url + path, json={"prompt": "x"},
                               headers={"Authorization": f"Bearer {vllm.api_key}"})
        assert response.status_code == 405
        assert response.json() == {"detail": "Method Not Allowed"}


def test_vllm_variants_list_delete_and_errors(vllm: LocalServer,
                                              vllm_http: httpx2.Client) -> None:
    created = vllm_http.post("/videos", data={"prompt": "Listed", "seconds": "1", **SMALL})
    video_id = created.json()["id"]
    assert "openai-poll-after-ms" not in created.headers
    assert _wait(vllm_http, video_id)["status"] == "completed"
    for variant in ("thumbnail", "spritesheet"):  # one file per job: always the MP4
        response = vllm_http.get(f"/videos/{video_id}/content", params={"variant": variant})
        assert response.headers["content-type"] == "video/mp4"
        assert response.content[4:8] == b"ftyp"
    page = vllm_http.get("/videos", params={"limit": 1}).json()
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
    deleted = vllm_http.delete(f"/videos/{video_id}").json()
    assert deleted == {"id": video_id, "object": "video.deleted", "deleted": True}
    gone = vllm_http.get(f"/videos/{video_id}")
    assert gone.status_code == 404 and gone.json()["error"]["message"] == "Video not found"
    wrong = httpx2.get(f"{vllm.base_url}/videos/{video_id}",
                       headers={"Authorization": "Bearer wrong"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Unauthorized"})


@pytest.mark.slow
def test_vllm_progress_stays_zero_and_failures_answer_422(sdk: MakeClient) -> None:
    with start(dialect="vllm-omni", job_seconds=30) as slow, _http(slow) as http:
        video = http.post("/videos", data={"prompt": UNRENDERED, **SMALL}).json()
        running = _wait(http, video["id"], done=("in_progress",))
        assert (running["status"], running["progress"]) == ("in_progress", 0)
        assert http.get(f"/videos/{video['id']}/content").status_code == 404
        failed = _wait(http, video["id"], done=("failed",))
        assert failed["error"]["code"] == "moderation_blocked"
        content = http.get(f"/videos/{video['id']}/content")
        assert content.status_code == 422


# SGLang ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sglang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with start(dialect="sglang", job_seconds=0,
               data_dir=tmp_path_factory.mktemp("sglang")) as srv:
        yield srv


def test_sglang_the_sdk_needs_a_reference_image(sglang: LocalServer, sdk: MakeClient) -> None:
    # the SDK always sends multipart, and SGLang's multipart path requires input_reference
    with pytest.raises(openai.BadRequestError) as err:
        sdk(sglang).videos.create(prompt="A kite")
    assert err.value.body == {"detail": "input_reference file is required"}
    assert str(err.value) == "Error code: 400"  # FastAPI's {"detail"} carries no SDK message


@pytest.mark.slow
def test_sglang_json_create_list_content_delete(sglang: LocalServer, tmp_path: Path) -> None:
    with _http(sglang) as http:
        body = {"prompt": "A kite", "seconds": 1, "size": "256x144", "fps": 8}
        created = http.post("/videos", json=body)
        assert created.status_code == 200, created.text
        job = created.json()
        assert str(uuid.UUID(job["id"])) == job["id"]
        assert (job["model"], job["quality"], job["seconds"]) == ("sora-2", "standard", "1")
        assert "openai-poll-after-ms" not in created.headers
        final = _wait(http, job["id"])
        assert (final["status"], final["progress"]) == ("completed", 100)
        assert isinstance(final["file_path"], str)  # the server's own path, sent as data
        page = http.get("/videos").json()
        assert set(page) == {"data", "object"} and page["data"][0]["id"] == job["id"]
        data = http.get(f"/videos/{job['id']}/content", params={"variant": "thumbnail"}).content
        info = probe(_mp4(tmp_path, data, "s.mp4"))
        assert (info.width, info.height) == (256, 144)
        deleted = http.delete(f"/videos/{job['id']}")
        assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
        gone = http.get(f"/videos/{job['id']}")
        assert (gone.status_code, gone.json()) == (404, {"detail": "Video not found"})


def test_sglang_subset_and_unfinished_content() -> None:
    with start(dialect="sglang", job_seconds=30) as slow, _http(slow) as http:
        job = http.post("/videos", json={"prompt": UNRENDERED}).json()
        content = http.get(f"/videos/{job['id']}/content")
        assert (content.status_code, content.json()) == (
            404, {"detail": "Generation is still in-progress"})
        remix = http.post(f"/videos/{job['id']}/remix", json={"prompt": "again"})
        assert (remix.status_code, remix.json()) == (404, {"detail": "Not Found"})
        edit = http.post("/videos/edits", json={"prompt": "again"})
        assert (edit.status_code, edit.json()) == (405, {"detail": "Method Not Allowed"})


# Gateway (what tests/gateway measured with a real LiteLLM 1.110.2) ----------------------------

LITELLM_ID = re.compile(r"^litellm:custom_llm_provider:openai;model_id:sora-2;"
                        r"video_id:(video_[0-9a-f]{48});deployment_id:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with start(dialect="gateway", job_seconds=0, data_dir=tmp_path_factory.mktemp("gw")) as srv:
        yield srv


@pytest.mark.slow
def test_gateway_create_poll_download_remix(gateway: LocalServer, sdk: MakeClient) -> None:
    client = sdk(gateway)
    with _http(gateway) as http:
        created = http.post("/videos", json={"model": "sora-2", "prompt": "A red kite"})
        assert created.status_code == 200
        assert "openai-poll-after-ms" not in created.headers
        job = created.json()
        assert (len(job["id"]), job["id"][-2:]) == (266, "==")
        match = LITELLM_ID.match(base64.b64decode(job["id"][6:]).decode())
        assert match is not None
        assert "prompt" not in job and job["usage"] == {"duration_seconds": 4.0}
        final = client.videos.poll(job["id"])
        assert final.status == "completed" and final.prompt is None
        assert http.get(f"/videos/{job['id']}").json()["usage"] is None
        for variant in ("video", "thumbnail", "spritesheet"):
            response = http.get(f"/videos/{job['id']}/content", params={"variant": variant})
            assert response.headers["content-type"] == "video/mp4"
            assert response.content[4:8] == b"ftyp"
        remix = client.videos.remix(job["id"], prompt=UNRENDERED)
        assert remix.remixed_from_video_id == match.group(1)  # the raw upstream id
        lost = http.get(f"/videos/{remix.remixed_from_video_id}")
        assert lost.status_code == 500 and "api.openai.com" in lost.json()["error"]["message"]


def test_gateway_list_delete_idempotency_and_errors(gateway: LocalServer,
                                                    sdk: MakeClient) -> None:
    client = sdk(gateway)
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.list()
    assert "LLM Provider NOT provided" in str(err.value)
    with _http(gateway) as http:
        body = {"model": "sora-2", "prompt": UNRENDERED}
        first = http.post("/videos", json=body, headers={"Idempotency-Key": "k"}).json()
        second = http.post("/videos", json=body, headers={"Idempotency-Key": "k"}).json()
        assert first["id"] != second["id"]
        deleted = http.delete(f"/videos/{first['id']}")
        assert (deleted.status_code, deleted.json()) == (405, {"detail": "Method Not Allowed"})
        assert deleted.headers["allow"] == "GET"
        bad = http.post("/videos", json={"model": "sora-2", "prompt": "x", "seconds": "5"})
        error = bad.json()["error"]
        assert (bad.status_code, error["code"], error["param"]) == (400, "400", None)
        assert error["message"].startswith("litellm.BadRequestError: OpenAIException - ")
        assert "Invalid value for 'seconds'" in error["message"]
    wrong = httpx2.get(f"{gateway.base_url}/videos/x", headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 400 and wrong.json()["error"]["type"] == "no_db_connection"


# Expiry ---------------------------------------------------------------------------------------


def test_expired_jobs_say_so_and_lose_their_content(shared_data_dir: Path) -> None:
    # the render of the session's default clip is reused from shared_data_dir
    with start(job_seconds=0, expire_after=0, data_dir=shared_data_dir) as srv, \
            _http(srv) as http:
        job = http.post("/videos", json={"prompt": "A red kite over a green hill"}).json()
        final = _wait(http, job["id"], done=("expired", "failed"))
        assert final["status"] == "expired"
        assert final["expires_at"] == final["completed_at"]
        content = http.get(f"/videos/{job['id']}/content")
        assert content.status_code == 404
        assert content.json()["error"]["code"] == "video_expired"


@pytest.mark.slow
def test_vllm_expiry_keeps_completed_and_loses_the_file() -> None:
    with start(dialect="vllm-omni", job_seconds=0, expire_after=0) as srv, \
            _http(srv) as http:
        job = http.post("/videos", data={"prompt": "Listed", "seconds": "1", **SMALL}).json()
        final = _wait(http, job["id"])
        assert final["status"] == "completed" and final["expires_at"] == final["completed_at"]
        content = http.get(f"/videos/{job['id']}/content")
        assert content.status_code == 404
        assert content.json()["error"]["message"] == "Generated video file not found on disk"


def test_gateway_expiry_is_the_upstreams_status_and_a_wrapped_404(shared_data_dir: Path) -> None:
    with start(dialect="gateway", job_seconds=0, expire_after=0,
               data_dir=shared_data_dir) as srv, _http(srv) as http:
        job = http.post("/videos", json={"prompt": "A red kite over a green hill"}).json()
        assert _wait(http, job["id"], done=("expired", "failed"))["status"] == "expired"
        content = http.get(f"/videos/{job['id']}/content")
        error = content.json()["error"]
        assert (content.status_code, error["code"]) == (404, "404")
        assert error["message"].startswith("litellm.NotFoundError: OpenAIException - ")
