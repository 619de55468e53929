"""Creates are journaled before they are sent and retried only when that is safe: against
the real local server with its fault injection, a real closed port, and (for answers no
real server here gives) a small hostile server over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from sora_nb import _store
from sora_nb._config import Backend
from sora_nb._create import PendingCreate, classify, journaled_create
from sora_nb._errors import SoraAPIError, SoraConnectionError, SoraOutcomeUnknown, SoraProtocolError
from sora_nb._fs import TEMP_PATTERN
from sora_nb._poller import PollPolicy
from sora_nb._runtime import runtime
from sora_nb.local import FaultConfig, LocalServer

Mark = pytest.mark


async def _no_sleep(_: float) -> None:
    return None


FAST = PollPolicy(sleep=_no_sleep, max_failures=2, seed=1)


def backend_of(srv: LocalServer | str, key: str = "k", *, idempotent: bool) -> Backend:
    url = srv if isinstance(srv, str) else srv.base_url
    api_key = key if isinstance(srv, str) else srv.api_key
    return Backend("local", url, api_key, identity=f"local:{url}", idempotent=idempotent)


def create(backend: Backend, prompt: str = "A careful create", seconds: str = "4",
           policy: PollPolicy = FAST) -> tuple[Any, Any]:
    pending = PendingCreate(prompt=prompt, original_prompt=prompt, model="sora-2",
                            seconds=int(seconds) if seconds.isdigit() else 0, size="1280x720",
                            cache_key=f"ck-{prompt}", request={"prompt": prompt})

    async def go() -> tuple[Any, Any]:
        client = runtime.client(backend)
        return await journaled_create(backend, pending, lambda: client.videos.create(
            prompt=prompt, model="sora-2", seconds=seconds, size="1280x720",  # type: ignore[arg-type]
            extra_headers=pending.headers), policy)

    return runtime.run(go())


def server_jobs(srv: LocalServer) -> int:
    """The jobs on the server's disk. Not the temporary file of a job being rewritten (when
    it turns in_progress, say): pathlib's glob does not hide dot files, so counting it made
    one job two under load."""
    files = (srv.data_dir / "jobs").glob("*.json")
    return sum(not TEMP_PATTERN.match(path.name) for path in files)


def test_a_created_job_is_journaled_with_its_key(local: LocalServer) -> None:
    video, entry = create(backend_of(local, idempotent=True))
    (journaled,) = _store.history()
    assert journaled == entry and journaled.id == video.id
    assert journaled.status == "queued" and journaled.idempotency_key.startswith("sora-nb-")


@Mark.server(faults=FaultConfig(server_error_rate=1.0, seed=3))
def test_a_5xx_from_a_server_without_idempotency_is_not_retried(
    fresh_server: LocalServer,
) -> None:
    with pytest.raises(SoraOutcomeUnknown) as info:
        create(backend_of(fresh_server, idempotent=False))
    err = info.value
    # one POST only: a retry could have made (and billed) a second job
    assert fresh_server.requests.count("POST", "/v1/videos") == 1
    # and the ambiguity is real: the server made the job before answering 5xx
    assert server_jobs(fresh_server) == 1
    (entry,) = _store.history()
    assert entry.status == "unknown" and entry.idempotency_key == err.idempotency_key
    assert err.entry == entry and "HTTP 5" in (entry.error_message or "")
    for hint in ("snb.history()", "SoraJob.attach", err.idempotency_key, "may"):
        assert hint in str(err)


@Mark.server(faults=FaultConfig(server_error_rate=0.6, seed=7))
def test_creates_under_60_percent_5xx_lose_nothing_and_duplicate_nothing(
    fresh_server: LocalServer,
) -> None:
    """The local backend honours Idempotency-Key, so 5xx are retried with the same key;
    a create that runs out of retries leaves an ``unknown`` entry, never nothing."""
    backend = backend_of(fresh_server, idempotent=True)
    outcomes: list[str] = []
    for n in range(20):
        try:
            create(backend, prompt=f"Under fire {n}")
            outcomes.append("ok")
        except SoraOutcomeUnknown:
            outcomes.append("unknown")
        if "unknown" in outcomes and "ok" in outcomes:
            break
    assert "unknown" in outcomes and "ok" in outcomes
    entries = _store.history()
    # a replayed create answers with the job as it is now (queued or in progress)
    assert sorted(e.status == "unknown" for e in entries) == sorted(
        o == "unknown" for o in outcomes)
    assert all(bool(e.id) == (e.status != "unknown") for e in entries)
    # one server job per create, retried or not: every one of them is in the journal
    assert server_jobs(fresh_server) == len(outcomes)


@Mark.server(faults=FaultConfig(drop_rate=0.5, seed=11))
def test_dropped_answers_are_retried_with_the_same_key(fresh_server: LocalServer) -> None:
    backend = backend_of(fresh_server, idempotent=True)
    done = 0
    for n in range(6):
        try:
            create(backend, prompt=f"Dropped {n}", policy=PollPolicy(sleep=_no_sleep, seed=1))
            done += 1
        except SoraOutcomeUnknown:
            pass
    assert done >= 1
    assert server_jobs(fresh_server) == len(_store.history())


def test_a_refused_connection_is_retried_and_leaves_no_entry(cache: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = backend_of(f"http://127.0.0.1:{port}/v1", idempotent=False)
    with pytest.raises(SoraConnectionError):
        create(backend)
    assert _store.history() == []


def test_a_4xx_leaves_no_entry(local: LocalServer) -> None:
    with pytest.raises(SoraAPIError) as info:
        create(backend_of(local, idempotent=False), seconds="5")
    assert info.value.status_code == 400
    assert _store.history() == []


def test_classify() -> None:
    import httpx2

    request = httpx2.Request("POST", "http://127.0.0.1/v1/videos")

    def status(code: int) -> openai.APIStatusError:
        return openai.APIStatusError("x", response=httpx2.Response(code, request=request),
                                     body=None)

    def connection(cause: Exception) -> openai.APIConnectionError:
        try:
            raise openai.APIConnectionError(request=request) from cause
        except openai.APIConnectionError as exc:
            return exc

    assert [classify(status(c)) for c in (400, 404, 409, 429, 500, 503)] == [
        "refused", "refused", "ambiguous", "refused", "ambiguous", "ambiguous"]
    assert classify(connection(httpx2.ConnectError("refused"))) == "refused"
    assert classify(connection(httpx2.RemoteProtocolError("dropped"))) == "ambiguous"
    assert classify(openai.APITimeoutError(request=request)) == "ambiguous"
    assert classify(ValueError("odd body")) == "ambiguous"


# -- a hostile server: answers the real ones never give ---------------------------------


class Hostile:
    """A tiny Videos server over real HTTP whose create answer is whatever a test sets."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        self.base_url = ""

    async def create(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(self.answer)

    async def retrieve(self, request: web.Request) -> web.Response:
        return web.json_response({**self.answer, "id": request.match_info["vid"]})


@pytest.fixture()
def hostile(cache: Path) -> Iterator[Hostile]:
    server = Hostile()
    app = web.Application()
    app.router.add_post("/v1/videos", server.create)
    app.router.add_get("/v1/videos/{vid}", server.retrieve)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}/v1"
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield server
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.run_until_complete(runner.cleanup())
    loop.close()


@pytest.mark.parametrize("bad_id", ["../../victim", "/etc/passwd", "a\x00b", "x" * 5000, 42,
                                    None])
def test_a_path_shaped_id_is_a_protocol_error_and_journaled_as_unknown(
    hostile: Hostile, bad_id: object, cache: Path,
) -> None:
    hostile.answer = {"id": bad_id, "object": "video", "status": "queued"}
    with pytest.raises(SoraProtocolError, match="unusable id"):
        create(backend_of(hostile.base_url, idempotent=False))
    (entry,) = _store.history()
    assert entry.status == "unknown" and entry.id == ""
    assert not (cache.parent / "victim").exists()


def test_an_off_spec_answer_is_journaled_leniently(hostile: Hostile) -> None:
    hostile.answer = {"id": "video_odd", "object": "video", "status": "processing",
                      "seconds": "4.0", "progress": None, "created_at": "soon",
                      "usage": {"units": 3}, "error": None}
    video, _ = create(backend_of(hostile.base_url, idempotent=False))
    assert video.id == "video_odd"
    (journaled,) = _store.history()
    assert (journaled.id, journaled.seconds, journaled.status, journaled.prompt) == (
        "video_odd", 4, "in_progress", "A careful create")  # normalize_status: one word
    assert json.loads(json.dumps(journaled.__dict__))  # plain data all the way


# -- the same rules through SoraJob --------------------------------------------------------


def test_a_hostile_id_through_soraJob_writes_nothing_outside(hostile: Hostile, cache: Path
                                                              ) -> None:
    import sora_nb as snb

    hostile.answer = {"id": "../../victim", "object": "video", "status": "completed"}
    snb.configure(backend="openai", base_url=hostile.base_url, api_key="sk-test-hostile-1")
    try:
        with pytest.raises(snb.SoraProtocolError):
            snb.SoraJob("A hostile answer", seconds=4, cache=False)
    finally:
        snb.configure(reset=True, cache_dir=cache)
    assert [e.status for e in snb.history()] == ["unknown"]
    outside = {p.name for p in cache.parent.iterdir()}
    assert outside == {"cache"}  # nothing beside the cache dir


def test_an_off_spec_answer_through_soraJob(hostile: Hostile, cache: Path) -> None:
    import sora_nb as snb

    hostile.answer = {"id": "video_offspec", "object": "video", "status": "completed",
                      "seconds": "4.0", "progress": None, "created_at": "soon",
                      "model": None, "usage": {"units": 3}}
    snb.configure(backend="openai", base_url=hostile.base_url, api_key="sk-test-hostile-2")
    try:
        job = snb.SoraJob("An off-spec answer", seconds=4, cache=False)
        assert (job.id, job.seconds, job.progress) == ("video_offspec", 4, 100)
        assert repr(job) == "<SoraJob video_offspec completed 100%>"
        assert job.snapshot().prompt.startswith("An off-spec answer")
        (entry,) = snb.history()
        assert (entry.id, entry.seconds, entry.status) == ("video_offspec", 4, "completed")
        gallery = snb.gallery(backend=False)
        assert "video_offspec" in gallery._repr_html_()
    finally:
        snb.configure(reset=True, cache_dir=cache)


@Mark.server(faults=FaultConfig(server_error_rate=1.0, seed=5))
def test_soraJob_on_a_server_without_idempotency_raises_outcome_unknown(
    fresh_server: LocalServer,
) -> None:
    import sora_nb as snb

    snb.configure(idempotent=False)
    with pytest.raises(snb.SoraOutcomeUnknown) as info:
        snb.SoraJob("Paid for once at most", seconds=4, cache=False)
    assert fresh_server.requests.count("POST", "/v1/videos") == 1
    (entry,) = snb.history()
    assert entry.status == "unknown" and entry.idempotency_key == info.value.idempotency_key


@pytest.mark.parametrize("bad", ["", None, "..", ".", "a/../b", "x" * 10_000, "v\x00"])
def test_attach_refuses_hostile_ids_before_any_request(local: LocalServer, bad: object
                                                       ) -> None:
    import sora_nb as snb

    before = len(local.requests)
    with pytest.raises(snb.SoraParameterError) as info:
        snb.SoraJob.attach(bad)  # type: ignore[arg-type]
    assert info.value.param == "video_id"
    with pytest.raises(snb.SoraParameterError):
        snb.get_sora_video_status(bad)  # type: ignore[arg-type]
    assert len(local.requests) == before


def test_bad_job_options_and_targets_are_typed_errors(local: LocalServer) -> None:
    import sora_nb as snb

    with pytest.raises(snb.SoraParameterError) as info:
        snb.SoraJob("Cache must be a bool", cache="no")  # type: ignore[typeddict-item]
    assert info.value.param == "cache"
    with pytest.raises(snb.SoraParameterError) as info:
        snb.SoraJob("Backend is named", backend="foo")  # type: ignore[typeddict-item]
    assert info.value.param == "backend"
    job = snb.SoraJob("Download targets", seconds=4, cache=False)
    for bad in ("", "   ", 42):
        with pytest.raises(snb.SoraParameterError) as info:
            job.download("video", bad)  # type: ignore[arg-type]
        assert info.value.param == "path"
    assert repr(snb.SoraJob.__new__(snb.SoraJob)) == "<SoraJob (not created)>"


@pytest.mark.slow
def test_delete_never_follows_a_link_out_of_the_cache(local: LocalServer, cache: Path,
                                                      tmp_path: Path) -> None:
    import sora_nb as snb

    job = snb.SoraJob("Deleted safely", seconds=4, cache=False).wait()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    folder = _store.media_path(job.id, "video").parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(victim, target_is_directory=True)
    job.delete()
    assert (victim / "keep.txt").read_text() == "mine"
    assert not folder.exists() and not folder.is_symlink()
