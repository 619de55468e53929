"""The local server through the real openai SDK over real HTTP: create, poll, retrieve, list,
download every variant (decoded), delete; multipart and JSON bodies; reference images."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import httpx2
import openai
import pytest
from openai.types import Video
from PIL import Image

from sora_nb._ffmpeg import probe
from sora_nb.local import MODERATION_MARKER, LocalServer
from sora_nb.local.render import SPRITE_COLUMNS, SPRITE_LONG_SIDE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ONE_FRAME = 1 / 24 + 1e-6
#: Jobs that stay unfinished on an idle server and are never rendered (see conftest).
UNRENDERED = f"{MODERATION_MARKER} "
MakeClient = Callable[..., openai.OpenAI]


@pytest.mark.slow
def test_done_when_create_and_poll_then_download_gives_a_playable_mp4(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    video = client.videos.create_and_poll(
        prompt="A calico cat playing piano", model="sora-2", seconds="4", size="1280x720",
    )
    assert (video.status, video.progress, video.error) == ("completed", 100, None)
    target = tmp_path / "cat.mp4"
    client.videos.download_content(video.id).write_to_file(target)
    info = probe(target, decode=True)
    assert (info.width, info.height) == (1280, 720)
    assert info.decoded_duration is not None
    assert abs(info.decoded_duration - 4.0) <= ONE_FRAME
    assert info.has_audio


def test_video_object_fields(clip: Video, client: openai.OpenAI) -> None:
    video = client.videos.retrieve(clip.id)
    assert video.id.startswith("video_") and video.object == "video"
    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")  # API defaults
    assert video.prompt == "A red kite over a green hill"
    assert video.remixed_from_video_id is None
    assert video.completed_at is not None and video.completed_at >= video.created_at
    assert video.expires_at == video.created_at + 24 * 3600


def test_every_variant_has_its_content_type_and_length(server: LocalServer, clip: Video) -> None:
    expected = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
    headers = {"Authorization": f"Bearer {server.api_key}"}
    for variant, ctype in expected.items():
        response = httpx2.get(server.content_url(clip.id, variant), headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == ctype
        assert int(response.headers["content-length"]) == len(response.content) > 0


def test_downloaded_assets_decode_at_the_right_size(
    client: openai.OpenAI, clip: Video, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    client.videos.download_content(clip.id, variant="video").write_to_file(video)
    info = probe(video, decode=True)
    assert (info.width, info.height, info.has_audio) == (720, 1280, True)
    assert info.decoded_duration is not None and abs(info.decoded_duration - 4.0) <= ONE_FRAME

    thumb = tmp_path / "thumb.webp"
    client.videos.download_content(clip.id, variant="thumbnail").write_to_file(thumb)
    with Image.open(thumb) as image:
        image.load()  # decodes fully
        assert (image.format, image.size) == ("WEBP", (720, 1280))

    sheet = tmp_path / "sheet.jpg"
    client.videos.download_content(clip.id, variant="spritesheet").write_to_file(sheet)
    tile = (round(720 * SPRITE_LONG_SIDE / 1280), SPRITE_LONG_SIDE)  # one frame, long side fixed
    with Image.open(sheet) as image:
        image.load()
        assert image.format == "JPEG"
        assert image.size[0] == SPRITE_COLUMNS * tile[0] and image.size[1] % tile[1] == 0


def test_streaming_download(client: openai.OpenAI, clip: Video, tmp_path: Path) -> None:
    with client.videos.with_streaming_response.download_content(clip.id) as response:
        response.stream_to_file(tmp_path / "streamed.mp4")
    assert probe(tmp_path / "streamed.mp4").has_video


def test_running_job_sends_poll_after_and_has_no_content(
    idle_server: LocalServer, sdk: MakeClient
) -> None:
    client = sdk(idle_server)
    created = client.videos.create(prompt=UNRENDERED + "A slow sunrise")
    assert (created.status, created.progress, created.completed_at) == ("queued", 0, None)
    raw = client.videos.with_raw_response.retrieve(created.id)
    assert 100 <= int(raw.headers["openai-poll-after-ms"]) <= 1000
    assert raw.parse().status in ("queued", "in_progress") and raw.parse().progress < 100
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.download_content(created.id)
    assert err.value.code == "video_not_ready" and created.id in err.value.message


def test_poll_after_ms_setting_is_sent(sdk: MakeClient) -> None:
    from sora_nb.local import start

    with start(job_seconds=60, poll_after_ms=250) as slow:
        client = sdk(slow)
        created = client.videos.create(prompt=UNRENDERED + "A slow sunset")
        raw = client.videos.with_raw_response.retrieve(created.id)
        assert raw.headers["openai-poll-after-ms"] == "250"


def test_finished_jobs_send_no_poll_after(client: openai.OpenAI, clip: Video) -> None:
    raw = client.videos.with_raw_response.retrieve(clip.id)
    assert "openai-poll-after-ms" not in raw.headers


def test_list_pages_in_both_orders_with_cursors(idle_server: LocalServer, sdk: MakeClient) -> None:
    client = sdk(idle_server)
    ids = [client.videos.create(prompt=f"{UNRENDERED}Shot {i}").id for i in range(5)]

    page = client.videos.list(limit=2)  # default order: newest first
    assert [v.id for v in page.data] == ids[::-1][:2]
    assert page.has_more and page.last_id == ids[3]
    assert page.last_id is not None
    assert [v.id for v in client.videos.list(limit=2, after=page.last_id).data] == ids[2:0:-1]
    assert [v.id for v in client.videos.list(limit=2)] == ids[::-1]  # the SDK's auto-paging

    asc = client.videos.list(limit=3, order="asc")
    assert [v.id for v in asc.data] == ids[:3] and asc.has_more
    assert asc.last_id is not None
    rest = client.videos.list(limit=3, order="asc", after=asc.last_id)
    assert [v.id for v in rest.data] == ids[3:] and not rest.has_more
    assert [v.id for v in client.videos.list(limit=2, order="asc")] == ids

    raw = httpx2.get(f"{idle_server.base_url}/videos", params={"limit": 1},
                     headers={"Authorization": f"Bearer {idle_server.api_key}"}).json()
    assert raw["object"] == "list" and raw["first_id"] == raw["last_id"] == ids[-1]
    assert raw["has_more"] is True
    assert client.videos.list(limit=100).has_more is False


@pytest.mark.slow
def test_delete_removes_the_job_and_its_files(server: LocalServer, client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(prompt="A paper boat that will be deleted")
    renders = server.data_dir / "renders"
    before = {p.name for p in renders.iterdir()}
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    assert len({p.name for p in renders.iterdir()}) == len(before) - 1
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(video.id)


@pytest.mark.slow
def test_identical_requests_share_one_render(server: LocalServer, client: openai.OpenAI) -> None:
    first = client.videos.create_and_poll(prompt="A twin render")
    renders = sorted(p.name for p in (server.data_dir / "renders").iterdir())
    second = client.videos.create_and_poll(prompt="A twin render")
    assert first.id != second.id and second.status == "completed"
    assert sorted(p.name for p in (server.data_dir / "renders").iterdir()) == renders


def test_json_create_body(idle_server: LocalServer) -> None:
    response = httpx2.post(
        f"{idle_server.base_url}/videos",
        json={"prompt": UNRENDERED + "JSON", "model": "sora-2-pro", "size": "1024x1792",
              "seconds": "8"},
        headers={"Authorization": f"Bearer {idle_server.api_key}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["size"], body["seconds"]) == ("sora-2-pro", "1024x1792", "8")
    assert body["status"] == "queued" and body["object"] == "video"


@pytest.mark.slow
def test_reference_image_upload_of_the_right_size(
    client: openai.OpenAI, png: Callable[..., bytes], tmp_path: Path
) -> None:
    video = client.videos.create_and_poll(
        prompt="Start from this frame", size="1280x720",
        input_reference=("frame.png", png("1280x720"), "image/png"),
    )
    assert video.status == "completed", video.error
    client.videos.download_content(video.id).write_to_file(tmp_path / "ref.mp4")
    assert probe(tmp_path / "ref.mp4").size == "1280x720"


def test_reference_image_as_data_url_in_a_json_body(
    idle_server: LocalServer, png: Callable[..., bytes]
) -> None:
    # The SDK cannot send {"image_url": ...} itself (it expects a file there), so raw JSON.
    data = base64.b64encode(png("720x1280", fmt="JPEG")).decode()
    response = httpx2.post(
        f"{idle_server.base_url}/videos",
        json={"prompt": UNRENDERED + "A data URL reference",
              "input_reference": {"image_url": f"data:image/jpeg;base64,{data}"}},
        headers={"Authorization": f"Bearer {idle_server.api_key}"},
    )
    assert response.status_code == 200, response.text
    assert len(list((idle_server.data_dir / "uploads").iterdir())) == 1


def test_reference_image_of_another_size_or_kind_is_refused(
    client: openai.OpenAI, png: Callable[..., bytes]
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(
            prompt="Wrong frame", size="1280x720",
            input_reference=("frame.webp", png("720x1280", fmt="WEBP"), "image/webp"),
        )
    assert err.value.param == "input_reference"
    assert "720x1280" in err.value.message and "1280x720" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="Not an image",
                             input_reference=("frame.png", b"GIF89a nope", "image/png"))
    assert err.value.param == "input_reference"
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="A GIF", size="720x1280",
                             input_reference=("f.gif", png("720x1280", fmt="GIF"), "image/gif"))
    assert err.value.param == "input_reference" and "PNG, JPEG or WebP" in err.value.message
