"""sora_nb's client against every server the embedded backend can play (issue 10): vLLM-Omni,
SGLang and a LiteLLM-like gateway (``local.start(dialect=...)``), through the real openai
SDK over real HTTP. README's compatibility table names these tests."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import sora_nb as snb
from sora_nb import _capabilities, _config
from sora_nb._ffmpeg import probe
from sora_nb._poller import PollPolicy
from sora_nb._scrubber import sprite_grid
from sora_nb.local import MODERATION_MARKER, LocalServer, start
from sora_nb.local._dialect_vllm import VLLM_OMNI_MODEL

pytestmark = [pytest.mark.slow]

#: Small, quick renders: 256x144 at 8 fps (the dialects that take any size and fps).
SMALL = {"size": "256x144", "extra": {"fps": 8}}
FAST = PollPolicy(min_interval=0.05, max_interval=0.5, max_wait=120)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocalServer]]:
    """One server per dialect for the module; jobs run as fast as they render."""
    made: dict[str, LocalServer] = {}
    try:
        for dialect in ("vllm-omni", "sglang", "gateway"):
            made[dialect] = start(dialect=dialect, job_seconds=0, poll_after_ms=50,
                                  data_dir=tmp_path_factory.mktemp(dialect))
        yield made
    finally:
        for srv in made.values():
            srv.stop()


def _use(srv: LocalServer, cache: Path) -> _config.Backend:
    """Configure sora_nb for ``srv`` as a user would: its URL and key, nothing else."""
    _capabilities.forget()
    snb.configure(reset=True, backend="openai", base_url=srv.base_url, api_key=srv.api_key,
                  cache_dir=cache, poll=FAST)
    return _config.resolve_backend()


@pytest.fixture()
def vllm(servers: dict[str, LocalServer], tmp_path: Path) -> Iterator[LocalServer]:
    _use(servers["vllm-omni"], tmp_path / "cache")
    yield servers["vllm-omni"]
    _config.reset_settings()


@pytest.fixture()
def sglang(servers: dict[str, LocalServer], tmp_path: Path) -> Iterator[LocalServer]:
    _use(servers["sglang"], tmp_path / "cache")
    yield servers["sglang"]
    _config.reset_settings()


@pytest.fixture()
def gateway(servers: dict[str, LocalServer], tmp_path: Path) -> Iterator[LocalServer]:
    _use(servers["gateway"], tmp_path / "cache")
    yield servers["gateway"]
    _config.reset_settings()


def _stills_are_made_from_the_video(job: snb.SoraJob, size: tuple[int, int]) -> None:
    with Image.open(job.download("thumbnail")) as img:
        img.load()
        assert img.format == "WEBP" and img.size == size
    with Image.open(job.download("spritesheet")) as img:
        img.load()
        assert img.format == "JPEG" and sprite_grid(img, size[0] / size[1])[0] == 10
    assert job.snapshot().made_locally == ("thumbnail", "spritesheet")


# -- vLLM-Omni --------------------------------------------------------------------------------


def test_vllm_generic_profile_sends_what_was_given_and_extra(vllm: LocalServer) -> None:
    backend = _config.resolve_backend()
    assert (backend.profile, backend.idempotent) == ("generic", False)
    job = snb.SoraJob("A lighthouse at dusk", model="my-own-name", seconds=3, size="256x144",
                      extra={"fps": 8, "num_frames": 12, "seed": 7, "negative_prompt": "blurry",
                             "num_inference_steps": 30}, enhance=False).wait()
    assert job.id.startswith("video_gen_") and job.model == VLLM_OMNI_MODEL
    assert job.seconds == 3  # sent as given: no rounding to 4
    info = probe(job.download(), decode=True)
    assert (info.size, info.fps, info.frames) == ("256x144", 8.0, 12)  # num_frames, fps used


def test_vllm_progress_is_best_effort_and_never_goes_back(vllm: LocalServer) -> None:
    seen: list[int | None] = []
    job = snb.SoraJob("A slow tide", seconds=1, enhance=False, **SMALL)  # type: ignore[arg-type]
    job.on_progress(lambda snap: seen.append(snap.progress))
    job.wait()
    numbers = [p for p in seen if p is not None]
    assert numbers == sorted(numbers) and numbers[-1] == 100


def test_vllm_downloads_and_stills_made_from_the_video(vllm: LocalServer) -> None:
    job = snb.SoraJob("A paper boat", seconds=1, enhance=False, **SMALL).wait()  # type: ignore[arg-type]
    assert probe(job.download(), decode=True).frames == 8
    _stills_are_made_from_the_video(job, (256, 144))


def test_vllm_has_no_remix_edit_or_extend_and_says_so_once(vllm: LocalServer) -> None:
    job = snb.SoraJob("A lantern", seconds=1, enhance=False, **SMALL).wait()  # type: ignore[arg-type]
    for operation, call, status in (("remix", job.remix, 404), ("edit", job.edit, 405),
                                    ("extend", job.extend, 405)):
        with pytest.raises(snb.SoraUnsupported) as info:
            call("again")
        assert (info.value.operation, info.value.status_code) == (operation, status)
        assert info.value.server == "127.0.0.1"
    before = len(vllm.requests.records())
    with pytest.raises(snb.SoraUnsupported):
        job.remix("once more")  # remembered: not asked again
    assert len(vllm.requests.records()) == before


def test_vllm_list_and_delete_work(vllm: LocalServer) -> None:
    job = snb.SoraJob("A listed kite", seconds=1, enhance=False, **SMALL).wait()  # type: ignore[arg-type]
    notes: list[str] = []
    from sora_nb._history import backend_history

    assert job.id in {e.id for e in backend_history(snb.history(), 10, notes)} and not notes
    job.delete()
    assert job.id not in {e.id for e in snb.history()}


def test_vllm_image_reference_by_url_goes_as_json(vllm: LocalServer) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (256, 144), (200, 30, 30)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    job = snb.SoraJob("A red card", seconds=1, input_reference=url, enhance=False,
                      **SMALL).wait()  # type: ignore[arg-type]
    assert job.status == "completed"
    assert probe(job.download()).size == "256x144"


def test_a_bad_extra_is_refused_before_anything_is_sent(vllm: LocalServer) -> None:
    posts = vllm.requests.count("POST", "/v1/videos", 200)
    with pytest.raises(snb.SoraParameterError) as info:
        snb.SoraJob("x", extra={"seconds": 9})
    assert info.value.param == "extra" and "pass seconds=" in str(info.value)
    with pytest.raises(snb.SoraParameterError):
        snb.SoraJob("x", seconds=2.5)  # generic: whole seconds, never rounded
    assert vllm.requests.count("POST", "/v1/videos", 200) == posts


# -- SGLang -----------------------------------------------------------------------------------


def test_sglang_text_to_video_goes_as_json_after_one_refused_form(sglang: LocalServer) -> None:
    refused = sglang.requests.count("POST", "/v1/videos", 400)
    first = snb.SoraJob("A kite", seconds=1, enhance=False, **SMALL).wait()  # type: ignore[arg-type]
    assert sglang.requests.count("POST", "/v1/videos", 400) == refused + 1
    second = snb.SoraJob("A second kite", seconds=1, enhance=False, **SMALL).wait()  # type: ignore[arg-type]
    assert sglang.requests.count("POST", "/v1/videos", 400) == refused + 1  # remembered
    for job in (first, second):
        assert probe(job.download(), decode=True).size == "256x144"
    _stills_are_made_from_the_video(first, (256, 144))


def test_sglang_lacks_remix_edit_extend_and_lists_and_deletes(sglang: LocalServer) -> None:
    assert not _config.resolve_backend().idempotent
    job = snb.SoraJob("A kite to remix", seconds=1, enhance=False, **SMALL).wait()  # type: ignore[arg-type]
    for operation, call, status in (("remix", job.remix, 404), ("edit", job.edit, 405),
                                    ("extend", job.extend, 405)):
        with pytest.raises(snb.SoraUnsupported) as info:
            call("again")
        assert (info.value.operation, info.value.status_code) == (operation, status)
    listed = snb.gallery(limit=5)
    assert listed.note is None and job.id in {e.id for e in listed.entries}
    job.delete()


# -- a LiteLLM-like gateway -------------------------------------------------------------------


def test_gateway_create_wait_download_remix_status(gateway: LocalServer) -> None:
    job = snb.SoraJob("A red kite", model="sora-2", seconds=4, size="720x1280",
                      enhance=False).wait()
    assert len(job.id) == 266 and job.id.endswith("==")
    assert probe(job.download(), decode=True).size == "720x1280"
    _stills_are_made_from_the_video(job, (720, 1280))
    status = snb.get_sora_video_status(job.id)
    assert (status["status"], status["progress"]) == ("completed", 100)
    remix = job.remix(f"{MODERATION_MARKER} remixed", enhance=False)
    assert remix.video.remixed_from_video_id != job.id  # the gateway's rewrite
    assert remix.remixed_from == job.id  # sora_nb's own record
    with pytest.raises(snb.SoraJobFailed):
        remix.wait()


def test_gateway_edit_and_extend_pass_through(gateway: LocalServer) -> None:
    assert not _config.resolve_backend().idempotent  # LiteLLM does not honour the key
    job = snb.SoraJob("A paper plane", model="sora-2", seconds=4, size="720x1280",
                      enhance=False).wait()
    edit = job.edit(f"{MODERATION_MARKER} edited", enhance=False)
    extension = job.extend(f"{MODERATION_MARKER} extended", seconds=4, enhance=False)
    for derived in (edit, extension):
        assert derived.id != job.id and derived.remixed_from == job.id
        assert derived.video.remixed_from_video_id is None  # the gateway drops it


def test_gateway_without_list_or_delete(gateway: LocalServer) -> None:
    job = snb.SoraJob(f"{MODERATION_MARKER} never rendered", model="sora-2", seconds=4,
                      enhance=False)
    shown = snb.gallery(limit=5)
    assert shown.note is not None and "no list of jobs" in shown.note
    assert job.id in {e.id for e in shown.entries}  # from the journal
    with pytest.raises(snb.SoraUnsupported) as info:
        job.delete()
    assert (info.value.operation, info.value.status_code) == ("delete", 405)
    with pytest.raises(snb.SoraAPIError) as bad:
        snb.SoraJob("x", model="sora-2", seconds=5)  # generic: sent as given, its upstream says no
    assert bad.value.status_code == 400 and "seconds" in str(bad.value)


# -- jobs that expire -------------------------------------------------------------------------


def test_an_expired_job_raises_sora_job_expired(tmp_path: Path) -> None:
    with start(job_seconds=0, expire_after=0) as srv:
        snb.configure(reset=True, backend="local", base_url=srv.base_url,
                      api_key=srv.api_key, cache_dir=tmp_path, poll=FAST)
        try:
            job = snb.SoraJob("A melting clock", seconds=4, enhance=False)
            with pytest.raises(snb.SoraJobExpired) as info:
                job.wait()
            assert isinstance(info.value, snb.SoraJobFailed) and job.status == "expired"
            assert 'data-status="expired"' in job._repr_html_()  # its own look (views)
        finally:
            _config.reset_settings()
