"""sora_nb's own behaviour through a real LiteLLM 1.110.2 proxy in front of the embedded
backend (issue 10, item 9): create -> wait -> download video, thumbnail, spritesheet (all
valid files, decoded) -> status -> remix -> gallery -> delete, each as README documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import sora_nb as snb
from sora_nb import _capabilities, _config
from sora_nb._ffmpeg import probe
from sora_nb._scrubber import sprite_grid

from .conftest import CLIP, GatewayProxy

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def through_proxy(litellm_proxy: GatewayProxy, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[GatewayProxy]:
    """sora_nb configured as a user would for a gateway: its URL and key, nothing else."""
    snb.configure(reset=True, backend="openai", base_url=litellm_proxy.base_url,
                  api_key=litellm_proxy.master_key,
                  cache_dir=tmp_path_factory.mktemp("cache"))
    yield litellm_proxy
    _capabilities.forget()
    _config.reset_settings()


@pytest.fixture(scope="module")
def job(through_proxy: GatewayProxy) -> snb.SoraJob:
    # the clip the fixture rendered upstream while the proxy started: no second render
    made = snb.SoraJob(CLIP["prompt"], model=CLIP["model"], seconds=CLIP["seconds"],
                       size=CLIP["size"], enhance=False)
    return made.wait(timeout=240)


def test_a_gateway_gets_the_generic_profile_and_no_retry_on_doubt(
        through_proxy: GatewayProxy) -> None:
    backend = _config.resolve_backend()
    assert (backend.profile, backend.idempotent) == ("generic", False)


def test_create_and_wait_through_the_proxy(job: snb.SoraJob,
                                           through_proxy: GatewayProxy) -> None:
    assert job.status == "completed" and job.progress == 100
    assert len(job.id) > 255 and job.id.endswith("==")  # LiteLLM's base64 ids
    # the proxy drops the prompt: the card keeps the user's own words
    assert job.snapshot().original_prompt == CLIP["prompt"]
    visible = repr(job) + job._repr_html_() + str(snb.get_sora_video_status(job.id))
    assert through_proxy.master_key not in visible


def test_the_video_downloads_as_a_real_mp4(job: snb.SoraJob) -> None:
    info = probe(job.download(), decode=True)
    assert info.has_video and info.size == CLIP["size"] and info.frames


def test_stills_the_proxy_replaces_by_the_mp4_are_made_from_the_video(
        job: snb.SoraJob, through_proxy: GatewayProxy) -> None:
    thumb = job.download("thumbnail")
    sheet = job.download("spritesheet")
    with Image.open(thumb) as img:
        img.load()
        assert img.format == "WEBP" and img.size == (720, 1280)
    with Image.open(sheet) as img:
        img.load()
        assert img.format == "JPEG"
        assert sprite_grid(img, 720 / 1280) == (10, 1)  # 4 s: one row of ten
    assert job.snapshot().made_locally == ("thumbnail", "spritesheet")
    assert "thumbnail and spritesheet made from the video" in job._repr_html_()
    # learnt once per backend: the next job's stills are made without asking the proxy
    identity = _config.resolve_backend().identity
    assert _capabilities.lacking(identity, "thumbnail")
    assert _capabilities.lacking(identity, "spritesheet")


def test_status_through_the_functional_api(job: snb.SoraJob) -> None:
    status = snb.get_sora_video_status(job.id)
    assert (status["status"], status["progress"]) == ("completed", 100)
    assert status["url"] is not None and job.id in status["url"]


def test_remix_keeps_sora_nbs_own_source_id(job: snb.SoraJob) -> None:
    remix = job.remix(f"{snb.local.MODERATION_MARKER} remix through the proxy", enhance=False)
    # the proxy answers with the raw upstream id in remixed_from_video_id: not ours
    assert remix.video.remixed_from_video_id != job.id
    assert remix.remixed_from == job.id and remix.snapshot().remixed_from == job.id
    entry = next(e for e in snb.history() if e.id == remix.id)
    assert entry.remixed_from == job.id and entry.kind == "remix"


def test_the_gallery_falls_back_to_the_journal(job: snb.SoraJob) -> None:
    from sora_nb._history import backend_history

    notes: list[str] = []
    entries = backend_history(snb.history(), 10, notes)
    assert job.id in {e.id for e in entries}
    assert len(notes) == 1 and "has no list of jobs" in notes[0]
    identity = _config.resolve_backend().identity
    assert _capabilities.lacking(identity, "list")
    shown = snb.gallery()
    assert len(shown) >= 1 and shown.note == notes[0]
    assert "has no list of jobs" in shown._repr_html_()


def test_delete_is_unsupported_said_once_and_keeps_everything(job: snb.SoraJob) -> None:
    with pytest.raises(snb.SoraUnsupported) as info:
        job.delete()
    err = info.value
    assert (err.operation, err.status_code) == ("delete", 405)
    assert err.server == "127.0.0.1" and "does not support delete" in str(err)
    # remembered: the second delete is refused without asking (no status code this time)
    with pytest.raises(snb.SoraUnsupported) as again:
        job.delete()
    assert again.value.status_code is None
    assert Path(job.download()).is_file()  # nothing was removed here
    assert job.id in {e.id for e in snb.history()}
