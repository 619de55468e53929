"""Every notebook flow (create, live card, show, spritesheet, compare, gallery, audio merge,
functional API) against the embedded backend playing vLLM-Omni and a LiteLLM-like gateway,
in-process (an IPython shell takes the displays): each runs without a traceback and gives
real files (issue 10, "Done when")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

import sora_nb as snb
from sora_nb import _capabilities, _config
from sora_nb._ffmpeg import probe
from sora_nb._poller import PollPolicy
from sora_nb._scrubber import SpriteScrubber
from sora_nb._widget import JobCard
from sora_nb.local import LocalServer, start

pytestmark = [pytest.mark.slow]

#: Per dialect, what a notebook would pass: small renders where the server takes any size;
#: the gateway's upstream speaks the Sora API, so Sora's model, durations and sizes.
PARAMS: dict[str, dict[str, Any]] = {
    "vllm-omni": {"seconds": 1, "size": "256x144", "extra": {"fps": 8}},
    "gateway": {"model": "sora-2", "seconds": 4, "size": "720x1280"},
}
FAST = PollPolicy(min_interval=0.05, max_interval=0.5, max_wait=240)


@pytest.fixture(scope="module", params=sorted(PARAMS))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LocalServer]:
    with start(dialect=request.param, job_seconds=0, poll_after_ms=50,
               data_dir=tmp_path_factory.mktemp(request.param)) as srv:
        yield srv


@pytest.fixture(scope="module")
def session(server: LocalServer, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[LocalServer, dict[str, Any]]]:
    _capabilities.forget()
    snb.configure(reset=True, backend="openai", base_url=server.base_url,
                  api_key=server.api_key, cache_dir=tmp_path_factory.mktemp("cache"),
                  poll=FAST)
    yield server, PARAMS[server.dialect]
    _config.reset_settings()


@pytest.fixture(scope="module")
def job(session: tuple[LocalServer, dict[str, Any]]) -> snb.SoraJob:
    _, params = session
    return snb.SoraJob("A calico cat playing piano", enhance=False, **params)


@pytest.fixture()
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.chdir(tmp_path)  # show() publishes media under ./sora_nb_media
    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def _size(params: dict[str, Any]) -> tuple[int, int]:
    width, height = (int(v) for v in params["size"].split("x"))
    return width, height


def test_create_and_the_live_card(job: snb.SoraJob) -> None:
    card = JobCard(job, widgets=True, fetch_media=False)
    bundle = job._repr_mimebundle_()
    assert job.id in bundle["text/html"]
    job.wait()
    assert card.last is not None and card.last.status == "completed"
    assert card.final  # the live bar gives way to the whole card, final and green
    assert 'data-status="completed"' in card.head.value
    card.close()


def test_show_video_thumbnail_and_spritesheet(job: snb.SoraJob,
                                              shell: InteractiveShell) -> None:
    with capture_output() as cap:
        job.show()
        job.show("thumbnail")
        job.show("spritesheet")
    html = [o.data["text/html"] for o in cap.outputs]
    assert html[0].startswith("<video") and html[1].startswith("<img")
    assert "sora-nb-sprite" in html[2]  # the scrubber in plain HTML and CSS
    assert "thumbnail" in job.snapshot().made_locally  # the server had none of its own


def test_spritesheet_scrubber(job: snb.SoraJob, session: tuple[LocalServer, dict[str, Any]]
                              ) -> None:
    width, height = _size(session[1])
    scrubber = SpriteScrubber(job.download("spritesheet"), aspect=width / height)
    assert scrubber.grid[0] == 10 and len(scrubber.frames) >= 10
    scrubber.slider.value = 5
    assert scrubber.image.value == scrubber.frames[5]


def test_compare(session: tuple[LocalServer, dict[str, Any]]) -> None:
    _, params = session
    grid = snb.compare(["A red kite over a beach", "A blue kite over a beach"],
                       enhance=False, **params).wait()
    assert [j.status for j in grid.jobs] == ["completed", "completed"]
    assert "blue" in grid._repr_html_()


def test_gallery(job: snb.SoraJob, session: tuple[LocalServer, dict[str, Any]]) -> None:
    job.wait()
    shown = snb.gallery(limit=10)
    assert job.id in {e.id for e in shown.entries}
    html = shown._repr_html_()
    if session[0].dialect == "gateway":  # no list there: the journal, and one quiet line
        assert shown.note is not None and "no list of jobs" in html
    else:
        assert shown.note is None


def test_audio_merge(job: snb.SoraJob, tmp_path: Path) -> None:
    rate = 16_000
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    merged = job.with_audio((tone, rate), mode="replace", fit="loop")
    info = probe(merged.path, decode=True)
    assert info.has_video and info.has_audio


def test_functional_api(session: tuple[LocalServer, dict[str, Any]]) -> None:
    _, params = session
    extra = params.get("extra")
    video_id = snb.generate_video_with_sora("A metronome", model=params.get("model"),
                                            duration=params["seconds"], extra=extra)
    snb.SoraJob.attach(video_id).wait()
    status = snb.get_sora_video_status(video_id)
    assert (status["status"], status["progress"]) == ("completed", 100)
    data = snb.download_sora_video_content(video_id)
    assert data[4:8] == b"ftyp"
    thumb = snb.download_sora_video_content(video_id, "thumbnail")
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
    whole = snb.generate_and_download_sora_video("A metronome", model=params.get("model"),
                                                 duration=params["seconds"], extra=extra)
    assert whole[4:8] == b"ftyp"


def test_every_still_is_a_real_image(job: snb.SoraJob) -> None:
    for variant, fmt in (("thumbnail", "WEBP"), ("spritesheet", "JPEG")):
        with Image.open(job.download(variant)) as img:  # type: ignore[arg-type]
            img.load()
            assert img.format == fmt
