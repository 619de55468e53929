"""Statuses and progress as other servers send them, through the real openai SDK over real
HTTP: ``pending``, ``processing``, ``running``, ``succeeded``, ``cancelled``, words sora_nb
does not know, ``null`` or missing progress, progress that goes back.

Stand-in server, and why: the servers that send these (Veo behind LiteLLM reports
``processing``; other gateways and clients ``pending``, ``running``, ``succeeded``,
``cancelled``) cannot run here (no internet, no GPU), and the embedded backend's dialects
reproduce what can (tests/test_servers.py). So a minimal aiohttp app plays them: each job
answers a scripted sequence of (status, progress), one step per poll. Everything on
sora_nb's side (SDK, HTTP, polling, job, card) is the real thing."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import sora_nb as snb
from sora_nb import _config
from sora_nb._ffmpeg import run_ffmpeg
from sora_nb._poller import PollPolicy

Step = dict[str, Any]
#: prompt -> the answers to successive polls (the last one repeats)
SCRIPTS: dict[str, list[Step]] = {
    "veo": [{"status": "pending", "progress": None}, {"status": "processing"},
            {"status": "processing", "progress": None}, {"status": "succeeded"}],
    "backwards": [{"status": "running", "progress": 40}, {"status": "running", "progress": 30},
                  {"status": "running", "progress": 60}, {"status": "succeeded", "progress": 100}],
    "cancelled": [{"status": "processing", "progress": 10},
                  {"status": "cancelled", "progress": 10}],
    "unknown": [{"status": "warming_up", "progress": None}],
    "odd": [{"progress": "abc", "seconds": None, "created_at": "soon"}],
    # completes, then answers every download with an HTML error page (a proxy's 200 page)
    "broken": [{"status": "completed", "progress": 100}],
}


class StandIn:
    """The stand-in server: ``base_url``; ``polls`` counts GETs of each job."""

    def __init__(self, mp4: bytes) -> None:
        self.mp4 = mp4
        self.jobs: dict[str, tuple[str, Iterator[Step]]] = {}
        self.polls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self.base_url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/videos", self.create)
        app.router.add_get("/v1/videos/{video_id}", self.retrieve)
        app.router.add_get("/v1/videos/{video_id}/content", self.content)
        return app

    def _body(self, video_id: str, step: Step) -> dict[str, Any]:
        body: dict[str, Any] = {"id": video_id, "object": "video", "model": "veo-3",
                                "seconds": "4", "size": "320x180", "created_at": 1_700_000_000}
        body.update(step)
        return body

    async def create(self, request: web.Request) -> web.Response:
        form = await request.post()
        script = str(form["prompt"])
        video_id = f"video_{next(self._ids)}"
        steps = SCRIPTS[script]
        self.jobs[video_id] = (script, itertools.chain(steps, itertools.repeat(steps[-1])))
        self.polls[video_id] = 0
        return web.json_response(self._body(video_id, steps[0]))

    async def retrieve(self, request: web.Request) -> web.Response:
        video_id = request.match_info["video_id"]
        self.polls[video_id] += 1
        return web.json_response(self._body(video_id, next(self.jobs[video_id][1])))

    async def content(self, request: web.Request) -> web.Response:
        if self.jobs[request.match_info["video_id"]][0] == "broken":
            return web.Response(text="<html><body>upstream error</body></html>",
                                content_type="text/html")
        return web.Response(body=self.mp4, content_type="video/mp4")


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    clip = tmp_path_factory.mktemp("clip") / "clip.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=8:duration=4",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(clip)])
    server = StandIn(clip.read_bytes())
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(server.app())
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        server.base_url = f"http://127.0.0.1:{port}/v1"
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(30)
    yield server
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)


def _fake_time() -> PollPolicy:
    """A poll policy on a fake clock that ``sleep`` advances: deadlines without waiting."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    return PollPolicy(min_interval=0.5, max_wait=30.0, clock=lambda: now[0], sleep=sleep)


@pytest.fixture()
def on_stand_in(stand_in: StandIn, tmp_path: Path) -> Iterator[StandIn]:
    snb.configure(reset=True, backend="openai", base_url=stand_in.base_url, api_key="k-stand-in",
                  cache_dir=tmp_path / "cache", poll=_fake_time())
    yield stand_in
    _config.reset_settings()


def _job(script: str) -> tuple[snb.SoraJob, list[snb.JobSnapshot]]:
    seen: list[snb.JobSnapshot] = []
    job = snb.SoraJob(script, enhance=False)
    job.on_progress(seen.append)
    return job, seen


def test_pending_processing_succeeded_without_progress(on_stand_in: StandIn) -> None:
    job, seen = _job("veo")
    job.wait()
    assert job.status == "completed" and job.progress == 100
    statuses = [s.status for s in seen]
    assert "queued" in statuses or "in_progress" in statuses
    running = [s for s in seen if s.status == "in_progress"]
    assert running and all(s.progress is None and s.eta is None for s in running)
    html = snb.SoraJob.attach(job.id)._repr_html_()
    assert "completed" in html
    assert probe_ok(job.download())


def probe_ok(path: Path) -> bool:
    from sora_nb._ffmpeg import probe

    return probe(path, decode=True).has_video


def test_progress_never_goes_back_on_screen(on_stand_in: StandIn) -> None:
    job, seen = _job("backwards")
    job.wait()
    shown = [s.progress for s in seen if s.progress is not None]
    assert shown == sorted(shown) and 30 not in shown and shown[-1] == 100


def test_a_job_cancelled_on_the_server_raises_sora_job_cancelled(on_stand_in: StandIn) -> None:
    job, _ = _job("cancelled")
    with pytest.raises(snb.SoraJobCancelled) as info:
        job.wait()
    assert isinstance(info.value, snb.SoraJobFailed)
    assert job.status == "cancelled" and job.done
    assert "was cancelled on the server" in str(info.value)
    assert 'data-status="cancelled"' in job._repr_html_()  # its own look, not "failed"


def test_an_unknown_status_is_shown_not_final_and_ends_at_the_deadline(
        on_stand_in: StandIn) -> None:
    job, _ = _job("unknown")
    with pytest.raises(snb.SoraTimeout):
        job.wait()
    assert job.status == "warming_up" and not job.done
    card = job._repr_html_()
    assert ">warming_up" in card  # shown exactly as sent
    assert "repeating-linear-gradient" in card  # no progress reported: a striped bar
    assert on_stand_in.polls[job.id] > 3  # polled on, until the (fake) deadline


def test_odd_fields_never_crash(on_stand_in: StandIn) -> None:
    job, _ = _job("odd")
    with pytest.raises(snb.SoraTimeout):
        job.wait()
    assert (job.status, job.progress, job.seconds) == ("unknown", None, 0)
    assert job.id in job._repr_html_()


def test_a_download_that_is_not_its_variant_is_refused_and_not_kept(
        on_stand_in: StandIn) -> None:
    from sora_nb import _store

    job, _ = _job("broken")
    job.wait()
    with pytest.raises(snb.SoraContentError) as info:
        job.download()
    err = info.value
    assert (err.variant, err.server, err.found) == ("video", "127.0.0.1", "html")
    assert "127.0.0.1" in str(err) and "an HTML page" in str(err)
    folder = _store.media_path(job.id, "video").parent
    assert not folder.exists() or list(folder.iterdir()) == []  # nothing kept
