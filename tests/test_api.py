"""The functional API of the original TypeScript module and its async twins, against the
real embedded backend."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

import sora_nb as snb
from sora_nb._ffmpeg import probe
from sora_nb.local import MODERATION_MARKER, LocalServer

pytestmark = pytest.mark.usefixtures("local")


@pytest.mark.slow
def test_generate_status_download(local: LocalServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    video_id = snb.generate_video_with_sora("A teapot spinning slowly", duration=4)
    assert video_id.startswith("video_")
    first = snb.get_sora_video_status(video_id)
    assert set(first) == {"id", "status", "progress", "url"} and first["id"] == video_id
    snb.SoraJob.attach(video_id).wait()
    status = snb.get_sora_video_status(video_id)
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["url"] == f"{local.base_url}/videos/{video_id}/content"
    # the documented URL really serves the video to a client holding the key
    response = httpx2.get(status["url"], headers={"Authorization": f"Bearer {local.api_key}"})
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    data = snb.download_sora_video_content(video_id)
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    assert probe(path, decode=True).duration == pytest.approx(4, abs=1 / 24)
    assert snb.download_sora_video_content(video_id, "thumbnail")[:4] == b"RIFF"
    assert snb.download_sora_video_content(video_id, "spritesheet")[:2] == b"\xff\xd8"


def test_duration_is_rounded_like_the_original_module(local: LocalServer) -> None:
    with pytest.warns(snb.SoraDurationWarning):
        video_id = snb.generate_video_with_sora("A metronome", duration=10)
    assert snb.SoraJob.attach(video_id).seconds == 12


def test_download_of_unfinished_or_failed_jobs_says_why(local: LocalServer) -> None:
    failed = snb.generate_video_with_sora(f"Blocked {MODERATION_MARKER}", duration=4)
    with pytest.raises(snb.SoraJobFailed):
        snb.SoraJob.attach(failed).wait()
    with pytest.raises(snb.SoraJobFailed, match="moderation"):
        snb.download_sora_video_content(failed)


@pytest.mark.slow
def test_generate_and_download_blocks_and_returns_mp4_bytes(local: LocalServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = snb.generate_and_download_sora_video("Binary search on a sorted array", duration=4)
    path = tmp_path / "g.mp4"
    path.write_bytes(data)
    info = probe(path, decode=True)
    assert (info.width, info.height) == (1280, 720) and info.has_audio


@pytest.mark.slow
def test_async_twins(local: LocalServer) -> None:
    async def main() -> tuple[str, dict, bytes, bytes, list[dict]]:  # type: ignore[type-arg]
        video_id = await snb.async_generate_video_with_sora("An async aquarium", duration=4)
        updates = [s async for s in snb.watch_sora_video(video_id)]
        status = await snb.async_get_sora_video_status(video_id)
        thumb = await snb.async_download_sora_video_content(video_id, "thumbnail")
        whole = await snb.async_generate_and_download_sora_video("An async orchard", duration=4)
        return video_id, dict(status), thumb, whole, [dict(u) for u in updates]

    video_id, status, thumb, whole, updates = asyncio.run(main())
    assert status["status"] == "completed" and status["id"] == video_id
    assert thumb[:4] == b"RIFF" and whole[4:8] == b"ftyp"
    assert updates[-1]["status"] == "completed" and updates[-1]["url"]
    assert [u["progress"] for u in updates] == sorted(u["progress"] for u in updates)
