"""A hostile server: a tiny aiohttp server speaking the Videos API whose answers carry
traversal ids, markup in every text field, off-spec fields and huge bodies. Whatever it
says, sora_nb writes nothing outside its cache dir, raises only typed errors, loses no job
it created, and escapes everything it shows.

This server is a real HTTP server (the thing under test is how the real SDK and sora_nb
take its answers); its answers are hand-written because no real server sends them.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import sora_nb as snb
from sora_nb import _config

from ._report import Ledger
from .test_soak import temp_files

pytestmark = pytest.mark.slow

SCRIPT = "<script>alert('sora')</script>"
IMG = '<img src=x onerror="alert(1)">'
HUGE = 8 * 1024 * 1024  # characters of a huge field


def _video(vid: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": vid, "object": "video", "created_at": int(time.time()), "status": "completed",
        "progress": 100, "model": "sora-2", "seconds": "4", "size": "720x1280",
        "prompt": "a harmless prompt", "completed_at": int(time.time()), "error": None,
        "expires_at": None, "remixed_from_video_id": None,
    }
    base.update(overrides)
    return base


# Each scenario: what the create answer says, what later retrieves say, and whether a
# well-behaved client can still take the job (False: it must refuse it with a typed error).
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    "traversal id ../../victim": ({"id": "../../victim"}, {}, False),
    "absolute id /abs/victim": ({"id": "/abs/victim"}, {}, False),
    "NUL in the id": ({"id": "video_a\x00b"}, {}, False),
    "10 kB id": ({"id": "video_" + "a" * 10_000}, {}, False),
    "dot-dot id": ({"id": ".."}, {}, False),
    "markup in every text field": (
        {"prompt": SCRIPT, "model": SCRIPT, "size": IMG, "status": "queued", "progress": 0},
        {"status": "failed", "progress": 40, "prompt": SCRIPT, "model": IMG, "size": SCRIPT,
         "error": {"code": SCRIPT, "message": IMG + SCRIPT}},
        True,
    ),
    "markup in a completed job": (
        {"prompt": IMG, "status": "in_progress", "progress": 10},
        {"prompt": SCRIPT + IMG, "model": "sora-2<script>", "size": "1280x720" + SCRIPT},
        True,
    ),
    "seconds '4.0'": ({"seconds": "4.0", "status": "queued", "progress": 0},
                      {"seconds": "4.0"}, True),
    "seconds 'four'": ({"seconds": "four", "status": "queued", "progress": 0},
                       {"seconds": "four"}, True),
    "progress null, then -5, then 500": (
        {"progress": None, "status": "queued"}, {"progress": -5, "status": "in_progress",
                                                 "then": {"progress": 500}}, True),
    "unknown status": ({"status": "queued", "progress": 0},
                       {"status": "exploding", "progress": 50}, True),
    "huge prompt and extra field in the create answer": (
        {"prompt": "p" * HUGE, "status": "queued", "progress": 0, "junk": "j" * HUGE},
        {}, True),
    "an HTML page instead of JSON": ({"raw": f"<html><body>{SCRIPT}</body></html>"}, {},
                                     False),
    "no id in the answer": ({"id": None}, {}, False),
    "a number as the id": ({"id": 12345}, {}, False),
    "huge error message": (
        {"status": "queued", "progress": 0},
        {"status": "failed", "error": {"code": "x" * 1000, "message": "m" * HUGE}}, True),
}


class HostileServer:
    """Answers every Videos route from the scenario's overrides; counts creates."""

    def __init__(self, create: dict[str, Any], later: dict[str, Any]) -> None:
        self.create_answer = _video("video_hostile0001", **create)
        self.later = dict(later)
        self.then = self.later.pop("then", None)
        self.retrieves = 0
        self.created: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.base_url = ""

    def record(self) -> dict[str, Any]:
        answer = {**self.create_answer, **self.later}
        if self.then and self.retrieves > 1:
            answer.update(self.then)
        return answer

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.method == "POST" and path == "/v1/videos":
            await request.read()
            self.created.append(str(self.create_answer["id"]))
            if "raw" in self.create_answer:
                return web.Response(text=self.create_answer["raw"], content_type="text/html")
            return web.json_response(self.create_answer)
        if request.method == "GET" and path == "/v1/videos":
            return web.json_response({"object": "list", "data": [self.record()],
                                      "first_id": None, "last_id": None, "has_more": False})
        if path.endswith("/content"):
            return web.Response(body=b"\x00\x00\x00\x18ftypmp42" + b"x" * 4096,
                                content_type="video/mp4")
        if request.method == "DELETE":
            return web.json_response({"id": self.create_answer["id"], "object": "video.deleted",
                                      "deleted": True})
        self.retrieves += 1
        return web.json_response(self.record())

    def __enter__(self) -> HostileServer:
        ready: Future[int] = Future()

        async def startup() -> web.AppRunner:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            address: Any = runner.addresses[0]
            ready.set_result(int(address[1]))
            return runner

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            runner = loop.run_until_complete(startup())
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="hostile-server")
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{ready.result(timeout=30)}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


def _tree(root: Path, *skip: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` (outside ``skip``): size and mtime."""
    state: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if any(here == s or s in here.parents for s in skip):
            dirnames.clear()
            continue
        for name in dirnames + filenames:
            if here / name in skip:
                continue  # their own mtime changes with what is written inside them
            st = (here / name).lstat()
            state[str((here / name).relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return state


def _unescaped(text: str) -> list[str]:
    lowered = text.lower()
    return [tag for tag in ("<script", "<img src=x", "onerror=\"alert") if tag in lowered]


# A short deadline: a job the server never finishes (unknown status) stops being polled
# and every wait on it ends in SoraTimeout instead of blocking the test.
POLICY = snb.PollPolicy(min_interval=0.01, max_interval=0.05, max_failures=2, max_wait=2.0)
_counts = {"scenarios": 0, "typed_errors": 0, "jobs_kept": 0, "html_checked": 0}


@pytest.fixture()
def area(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tmp/area/{cache, victim/keep.txt, abs/victim/keep.txt, cwd/, out/, beside.txt}:
    ``out`` is the one folder outside the cache a user asks a download to go to."""
    area = tmp_path / "area"
    for folder in ("cache", "victim", "abs/victim", "cwd", "out", "cache-sibling"):
        (area / folder).mkdir(parents=True)
    for keep in ("victim/keep.txt", "abs/victim/keep.txt", "beside.txt", "cache-sibling/k"):
        (area / keep).write_text("must survive\n")
    monkeypatch.chdir(area / "cwd")
    snb.configure(cache_dir=area / "cache")
    yield area
    _config.reset_settings()


def _exercise(job: snb.SoraJob, area: Path, typed: list[BaseException]) -> None:
    """Everything a user does with a job; each step may raise only typed errors."""
    steps = [
        lambda: job.wait(timeout=10),
        lambda: job.download(),
        lambda: job.download("thumbnail"),
        lambda: job.download("video", area / "out"),
        lambda: repr(job),
        lambda: job.snapshot(),
        lambda: snb.SoraJob.attach(job.id),
        lambda: snb.get_sora_video_status(job.id),
        lambda: snb.gallery(limit=5)._repr_mimebundle_(),
        lambda: job.delete(),
    ]
    for step in steps:
        try:
            step()
        except snb.SoraError as exc:
            typed.append(exc)


def _html_of(job: snb.SoraJob) -> list[str]:
    from sora_nb._display import card_html

    outputs = [job._repr_html_(), card_html(job.snapshot())]
    bundle = job._repr_mimebundle_()
    outputs += [v for v in bundle.values() if isinstance(v, str)]
    gallery = snb.gallery(limit=5, backend=True)._repr_mimebundle_()
    outputs += [v for v in gallery.values() if isinstance(v, str)]
    return outputs


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_hostile_server_cannot_escape_crash_or_inject(scenario: str, area: Path) -> None:
    create, later, acceptable = SCENARIOS[scenario]
    before = _tree(area, area / "cache", area / "out")
    typed: list[BaseException] = []
    with HostileServer(create, later) as server:
        snb.configure(backend="local", base_url=server.base_url,
                      api_key="sk-hostile-test-key-0001", poll=POLICY)
        job: snb.SoraJob | None = None
        try:
            job = snb.SoraJob("A prompt for a hostile server", seconds=4, cache=False)
        except snb.SoraError as exc:
            typed.append(exc)
        try:
            snb.SoraJob.attach(str(server.create_answer["id"]))
        except snb.SoraError as exc:
            typed.append(exc)
        if acceptable:
            # A job the server created is never lost, whatever else its answer says.
            assert job is not None, f"{scenario}: refused a usable job: {typed!r}"
            known = {e.id for e in snb.history(include_deleted=True)}
            assert server.created[0] in known
            for text in _html_of(job):
                assert _unescaped(text) == [], text[:2000]
                _counts["html_checked"] += 1
            if "<script" in job.prompt.lower():  # shown, and shown as text
                assert "&lt;script" in job._repr_html_().lower()
            _exercise(job, area, typed)
            _counts["jobs_kept"] += 1
        else:
            assert job is None, f"{scenario}: took a job with id {job and job.id!r}"
            assert typed, scenario
        # The journal still reads, and stays data: no entry makes history() fail.
        json.dumps([e.id for e in snb.history(include_deleted=True)])
    for exc in typed:
        assert isinstance(exc, snb.SoraError)
        assert len(str(exc)) < 20_000, "an error message carries a huge server field whole"
    after = _tree(area, area / "cache", area / "out")
    changed = sorted(set(after.items()) ^ set(before.items()))
    assert after == before, f"{scenario} changed files outside the cache dir: {changed}"
    # What went to the folder the user named is one file named after the job, in it.
    assert all(p.parent == area / "out" and p.is_file() for p in (area / "out").rglob("*"))
    assert temp_files(area / "cache") == []
    _counts["scenarios"] += 1
    _counts["typed_errors"] += len(typed)


def test_hostile_ledger(ledger: Ledger) -> None:
    """Runs after the scenarios of this module (pytest keeps file order)."""
    assert _counts["scenarios"] == len(SCENARIOS)
    ledger.record(
        "hostile", "a Videos API server answering with traversal ids (../../victim, /abs, "
        "NUL, .., 10 kB), no id or a number, an HTML page instead of JSON, markup in every "
        "text field, off-spec fields (seconds '4.0'/'four', progress null/-5/500, unknown "
        "status) and 8 MB fields",
        f"{len(SCENARIOS)} scenarios, each through create, attach, wait, download (cache and "
        "a folder), repr, card, gallery, status and delete",
        "nothing written, changed or deleted outside the cache dir; only typed errors; "
        "hostile ids refused before any path was built; every acceptable job journaled; "
        "no unescaped markup in any HTML output",
        f"{_counts['typed_errors']} typed errors, {_counts['html_checked']} HTML outputs "
        f"checked, {_counts['jobs_kept']} jobs kept",
    )
