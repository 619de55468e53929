"""SoraJob lifecycle against the real embedded backend, through the real SDK over HTTP."""

from __future__ import annotations

import asyncio
import gc
import re
import threading
import weakref
from pathlib import Path

import pytest

import sora_nb as snb
from sora_nb._ffmpeg import probe
from sora_nb.local import MODERATION_MARKER, LocalServer

pytestmark = pytest.mark.usefixtures("local")


@pytest.mark.slow
def test_job_returns_at_once_then_completes(local: LocalServer) -> None:
    creates = local.requests.count("POST", "/v1/videos")
    job = snb.SoraJob("A calico cat playing piano", seconds=4, cache=False)
    assert job.id.startswith("video_")
    # The constructor made exactly one create call and waited for no render.
    assert job.status in ("queued", "in_progress")
    assert local.requests.count("POST", "/v1/videos") == creates + 1
    # one read of the running job: its poller may change it between two reads
    assert re.fullmatch(rf"<SoraJob {job.id} (queued|in_progress) \d+%>", repr(job))
    assert job.wait() is job
    assert job.status == "completed" and job.progress == 100
    assert job.error is None
    assert job.video.id == job.id
    assert job.elapsed > 0
    assert repr(job) == f"<SoraJob {job.id} completed 100%>"


def test_defaults_follow_the_original_module(local: LocalServer) -> None:
    job = snb.SoraJob("A lighthouse at dawn", cache=False)
    assert (job.model, job.size, job.seconds) == ("sora-2", "1280x720", 8)
    assert job.backend.label == "local"


@pytest.mark.slow
def test_download_gives_a_playable_mp4_of_the_request(local: LocalServer) -> None:
    job = snb.SoraJob("Waves on a pebble beach", seconds=4, size="720x1280", cache=False)
    path = job.download()
    info = probe(path, decode=True)
    assert (info.width, info.height) == (720, 1280)
    assert abs((info.decoded_duration or 0) - 4) <= 1 / 24
    assert info.video_codec == "h264" and info.has_audio
    # cached: the second download is the same file, not a second request
    gets = local.requests.count("GET", "/v1/videos/{video_id}/content")
    assert job.download() == path
    assert local.requests.count("GET", "/v1/videos/{video_id}/content") == gets


@pytest.mark.slow
def test_download_to_a_path_and_every_variant(local: LocalServer, tmp_path: Path) -> None:
    job = snb.SoraJob("A paper boat on a stream", seconds=4, cache=False).wait()
    out = job.download("video", tmp_path / "clip.mp4")
    assert out == tmp_path / "clip.mp4" and out.stat().st_size > 1000
    assert job.download("thumbnail").suffix == ".webp"
    assert job.download("spritesheet").suffix == ".jpg"
    assert job.read_bytes("thumbnail")[:4] == b"RIFF"
    into_dir = job.download("video", tmp_path)
    assert into_dir == tmp_path / f"{job.id}.mp4"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    with pytest.raises(snb.SoraParameterError, match="variant"):
        job.download("poster")  # type: ignore[arg-type]


def test_failed_job_raises_with_the_servers_reason(local: LocalServer) -> None:
    job = snb.SoraJob(f"A forbidden scene {MODERATION_MARKER}", seconds=4, cache=False)
    with pytest.raises(snb.SoraJobFailed) as info:
        job.wait()
    assert info.value.job is job
    assert info.value.code == "moderation_blocked"
    assert job.status == "failed" and job.error is not None
    assert job.error.code == "moderation_blocked" and job.error.message
    assert job.snapshot().poll_state == "done"
    with pytest.raises(snb.SoraJobFailed):
        job.download()


@pytest.mark.slow
@pytest.mark.server(job_seconds=3.0)
def test_timeout_then_wait_again(fresh_server: LocalServer) -> None:
    job = snb.SoraJob("A slow sunrise", seconds=4, cache=False)
    with pytest.raises(snb.SoraTimeout) as info:
        job.wait(timeout=0.05)
    assert info.value.job is job and job.id in str(info.value)
    assert job.wait().status == "completed"


@pytest.mark.slow
def test_observers_see_rising_progress_and_a_raising_callback_is_harmless(
    local: LocalServer,
) -> None:
    seen: list[snb.JobSnapshot] = []
    threads: set[str] = set()

    def record(snap: snb.JobSnapshot) -> None:
        seen.append(snap)
        threads.add(threading.current_thread().name)

    def explode(snap: snb.JobSnapshot) -> None:
        raise RuntimeError("a broken callback")

    job = snb.SoraJob("A hummingbird in slow motion", seconds=4, cache=False)
    job.on_progress(explode)
    unsubscribe = job.on_progress(record)
    job.wait()
    progress = [s.progress for s in seen]
    assert progress == sorted(progress)
    assert seen[-1].status == "completed" and seen[-1].progress == 100
    assert seen[-1].poll_state == "done"
    assert "sora_nb-runtime" in threads
    unsubscribe()
    count = len(seen)
    notes: list[str | None] = []
    job.on_progress(lambda snap: notes.append(snap.note))
    job.delete()  # a change (the "deleted" note) after unsubscribing reaches nobody
    assert notes[-1] == "deleted"
    assert len(seen) == count


@pytest.mark.slow
def test_updates_async_iterator_ends_when_the_job_finishes(local: LocalServer) -> None:
    async def consume() -> list[snb.JobSnapshot]:
        job = await snb.SoraJob.async_create("Autumn leaves falling", seconds=4, cache=False)
        return [snap async for snap in job.updates()]

    snaps = asyncio.run(consume())
    assert snaps[-1].status == "completed"
    assert len({s.id for s in snaps}) == 1


@pytest.mark.slow
def test_await_job_and_wait_inside_a_running_loop(local: LocalServer) -> None:
    async def main() -> tuple[str, str]:
        job = await snb.SoraJob.async_create("A robot watering plants", seconds=4, cache=False)
        done = await job
        # A blocking wait() from inside a running loop (as in a Jupyter cell) still works:
        # it waits on the runtime thread, never on this loop.
        other = snb.SoraJob("A robot painting a fence", seconds=4, cache=False)
        return done.status, other.wait().status

    assert asyncio.run(main()) == ("completed", "completed")


@pytest.mark.slow
def test_cache_hit_reuses_the_job_and_cache_false_makes_a_new_one(local: LocalServer) -> None:
    first = snb.SoraJob("A red kite over hills", seconds=4).wait()
    creates = local.requests.count("POST", "/v1/videos")
    again = snb.SoraJob("A red kite over hills", seconds=4)
    assert again.id == first.id and again.from_cache
    assert again.snapshot().from_cache
    assert local.requests.count("POST", "/v1/videos") == creates
    different = snb.SoraJob("A red kite over hills", seconds=8)
    assert different.id != first.id
    fresh = snb.SoraJob("A red kite over hills", seconds=4, cache=False)
    assert fresh.id != first.id and not fresh.from_cache


@pytest.mark.slow
def test_in_flight_jobs_are_reused_too(local: LocalServer) -> None:
    first = snb.SoraJob("Rain on a tin roof", seconds=4)
    second = snb.SoraJob("Rain on a tin roof", seconds=4)
    assert second.id == first.id
    assert second.wait().status == "completed"


def test_failed_jobs_are_not_reused_from_cache(local: LocalServer) -> None:
    prompt = f"Blocked twice {MODERATION_MARKER}"
    first = snb.SoraJob(prompt, seconds=4)
    with pytest.raises(snb.SoraJobFailed):
        first.wait()
    assert snb.SoraJob(prompt, seconds=4).id != first.id


@pytest.mark.slow
def test_attach_follows_an_existing_job(local: LocalServer) -> None:
    job = snb.SoraJob("A fox in the snow", seconds=4, cache=False)
    assert snb.SoraJob.attach(job.id) is job  # the live object of this process
    job_id, first = job.id, weakref.ref(job)
    job.wait()
    del job  # once no one holds it (polling has ended), attach makes a new object
    gc.collect()
    assert first() is None
    other = snb.SoraJob.attach(job_id)
    assert other.id == job_id
    assert other.wait().status == "completed"
    assert other.original_prompt == "A fox in the snow"
    with pytest.raises(snb.SoraAPIError) as info:
        snb.SoraJob.attach("video_does_not_exist")
    assert info.value.status_code == 404


@pytest.mark.slow
@pytest.mark.server(job_seconds=4.0, poll_after_ms=50)
def test_cancel_stops_polling_and_resume_continues(fresh_server: LocalServer) -> None:
    # The poller sleeps until the test lets it: after its first poll (moments after the
    # create, well inside the 4 s render) it cannot see the job finish before cancel().
    released = asyncio.Event()

    async def held(_delay: float) -> None:
        await released.wait()

    snb.configure(poll=snb.PollPolicy(sleep=held))
    job = snb.SoraJob("A snail crossing a road", seconds=4, cache=False)
    with pytest.warns(UserWarning, match="server may still render"):
        job.cancel()
    snap = job.snapshot()
    assert not snap.terminal
    snb.configure(poll=snb.PollPolicy())
    assert snap.poll_state == "cancelled" and "resume" in (snap.note or "")
    with pytest.raises(snb.SoraError, match="cancelled"):
        job.wait()
    assert job.resume().wait().status == "completed"


@pytest.mark.slow
def test_remix_extend_and_edit_derive_new_jobs(local: LocalServer) -> None:
    source = snb.SoraJob("A sailboat at noon", seconds=4, cache=False)
    remix = source.remix("The same sailboat at sunset")
    assert remix.id != source.id
    assert remix.wait().video.remixed_from_video_id == source.id
    extended = source.extend("The sailboat reaches the harbour", seconds=4)
    assert extended.wait().seconds == 8
    assert abs(probe(extended.download(), decode=True).duration - 8) <= 1 / 24
    edited = source.edit("Make the sail red")
    assert edited.wait().status == "completed"
    kinds = {e.id: e.kind for e in snb.history()}
    assert kinds[remix.id] == "remix" and kinds[extended.id] == "extend"
    assert kinds[edited.id] == "edit"


@pytest.mark.slow
def test_delete_removes_the_job_and_its_cached_media(local: LocalServer, cache: Path) -> None:
    job = snb.SoraJob("A melting ice cube", seconds=4, cache=False)
    path = job.download()
    job.delete()
    assert not path.exists()
    assert job.id not in {e.id for e in snb.history()}
    with pytest.raises(snb.SoraAPIError):
        snb.SoraJob.attach(job.id)


def test_prompt_enhancement_is_kept_apart_from_the_original(local: LocalServer) -> None:
    job = snb.SoraJob("Explain how a binary search algorithm works", seconds=4, cache=False)
    assert job.original_prompt == "Explain how a binary search algorithm works"
    assert job.prompt.startswith(job.original_prompt) and job.prompt != job.original_prompt
    assert "16:9" in job.prompt
    plain = snb.SoraJob("Explain how a binary search algorithm works", seconds=4,
                        enhance=False, cache=False)
    assert plain.prompt == plain.original_prompt


def test_bad_parameters_fail_before_any_request(local: LocalServer) -> None:
    creates = local.requests.count("POST", "/v1/videos")
    with pytest.raises(snb.SoraParameterError, match="model"):
        snb.SoraJob("x", model="sora-3")
    with pytest.raises(snb.SoraParameterError, match="seconds"):
        snb.SoraJob("x", seconds=-1)
    with pytest.raises(snb.SoraParameterError, match="size"):
        snb.SoraJob("x", size="1792x1024")  # pro-only size on sora-2
    with pytest.raises(snb.SoraParameterError, match="prompt"):
        snb.SoraJob("   ")
    assert local.requests.count("POST", "/v1/videos") == creates


def test_seconds_are_rounded_with_a_warning(local: LocalServer) -> None:
    with pytest.warns(snb.SoraDurationWarning, match="7"):
        job = snb.SoraJob("A clock ticking", seconds=7, cache=False)
    assert job.seconds == 8


def test_a_new_key_takes_effect_at_once(server: LocalServer, cache: Path) -> None:
    from sora_nb import _config

    try:
        snb.configure(backend="local", base_url=server.base_url, api_key="sora-local-wrong-1")
        with pytest.raises(snb.SoraAuthenticationError):
            snb.SoraJob("Key rotation", seconds=4, cache=False)
        snb.configure(api_key=server.api_key)
        assert snb.SoraJob("Key rotation", seconds=4, cache=False).id
    finally:
        _config.reset_settings()


@pytest.mark.slow
def test_attach_of_a_stopped_live_job_follows_it_again(local: LocalServer) -> None:
    job = snb.SoraJob("Attach after cancel", seconds=4, cache=False)
    with pytest.warns(UserWarning):
        job.cancel()
    again = snb.SoraJob.attach(job.id)
    assert again is job
    assert again.wait().status == "completed"


@pytest.mark.slow
def test_elapsed_of_a_finished_cached_job_is_frozen(local: LocalServer) -> None:
    snb.SoraJob("Frozen clock", seconds=4).wait()
    cached = snb.SoraJob("Frozen clock", seconds=4)
    assert cached.from_cache and cached.done
    video = cached.video
    assert video.completed_at is not None
    # the backend's own times, not the clock
    assert cached.elapsed == max(0.0, float(video.completed_at) - float(video.created_at))


@pytest.mark.slow
def test_a_reference_image_must_match_the_size_or_be_fitted(
    local: LocalServer, tmp_path: Path
) -> None:
    from PIL import Image

    square = tmp_path / "square.png"
    Image.new("RGB", (600, 600), (200, 40, 40)).save(square)
    creates = local.requests.count("POST", "/v1/videos")
    with pytest.raises(snb.SoraParameterError, match="input_reference") as info:
        snb.SoraJob("A red square comes alive", seconds=4, input_reference=square)
    assert "600x600" in str(info.value) and "1280x720" in str(info.value)
    assert local.requests.count("POST", "/v1/videos") == creates  # refused before sending
    job = snb.SoraJob("A red square comes alive", seconds=4, input_reference=square,
                      fit="crop", cache=False).wait()
    assert job.status == "completed"
    # the uploaded reference shows through: the thumbnail is dominated by its red
    thumb = Image.open(job.download("thumbnail")).convert("RGB").resize((16, 9))
    r, g, b = (sum(c) / len(c) for c in zip(*thumb.getdata(), strict=True))
    assert r > g + 20 and r > b + 20


@pytest.mark.slow
def test_wait_refuses_a_bad_timeout_and_takes_an_infinite_one(local: LocalServer) -> None:
    job = snb.SoraJob("A metronome", seconds=4, cache=False)
    for bad in (-1, float("nan"), "10", True, [3]):
        with pytest.raises(snb.SoraParameterError, match=r"^timeout="):
            job.wait(timeout=bad)  # type: ignore[arg-type]
        with pytest.raises(snb.SoraParameterError, match=r"^timeout="):
            asyncio.run(job.async_wait(timeout=bad))  # type: ignore[arg-type]
    with pytest.raises(snb.SoraParameterError, match=r"^progress="):
        job.wait(progress="yes")  # type: ignore[arg-type]
    assert job.wait(timeout=float("inf")) is job  # no limit, like None
    assert job.wait(timeout=1e300) is job
