"""The LocalServer object itself: start() arguments, the public names, repr and key secrecy,
content_url, the request log, stop() and the job lifecycle seen over time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

import sora_nb.local
from sora_nb._errors import SoraConfigError, SoraParameterError
from sora_nb.local import MODERATION_MARKER, FaultConfig, LocalServer, start

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_public_names_are_exactly_these_and_sorted() -> None:
    assert sora_nb.local.__all__ == [
        "DIALECTS", "MODERATION_MARKER", "FaultConfig", "LocalServer", "start",
    ]
    names = sora_nb.local.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))  # constants first
    assert MODERATION_MARKER == "[moderation-block]"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"host": "0.0.0.0"}, "host"), ({"host": "192.168.1.2"}, "host"), ({"port": -1}, "port"),
     ({"port": 70000}, "port"), ({"job_seconds": -1}, "job_seconds"),
     ({"job_seconds": float("nan")}, "job_seconds"), ({"poll_after_ms": -5}, "poll_after_ms"),
     ({"workers": 0}, "workers"), ({"faults": {"drop_rate": 1}}, "faults"),
     ({"api_key": ""}, "api_key")],
)
def test_start_rejects_bad_arguments(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(SoraParameterError) as err:
        start(**kwargs)
    assert err.value.param == param


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SoraConfigError) as err:
            start(port=port)
    assert str(port) in str(err.value)


def test_urls_repr_and_key(server: LocalServer, clip: Any) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.api_key.startswith("sora-local-") and len(server.api_key) > 30
    text = repr(server)
    assert text.startswith(f"<LocalServer {server.base_url} jobs=") and text.endswith(">")
    assert server.api_key not in text and server.api_key not in str(vars(server).get("requests"))
    url = f"{server.base_url}/videos/{clip.id}/content?variant=video"
    assert server.content_url(clip.id) == url
    assert server.content_url(clip.id, "thumbnail").endswith("variant=thumbnail")
    with pytest.raises(SoraParameterError) as err:
        server.content_url(clip.id, "poster")
    assert err.value.param == "variant" and "spritesheet" in str(err.value)


def test_a_given_key_is_used_and_never_shown() -> None:
    key = "sora-local-my-own-secret-key-123"
    with start(api_key=key, port=0, host="localhost") as server:
        assert server.api_key == key and key not in repr(server)
        assert server.base_url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
        assert client.videos.list().data == []


def test_request_log_counts_by_method_route_and_status(server: LocalServer,
                                                       client: openai.OpenAI) -> None:
    before = server.requests.count("GET", "/v1/videos/{video_id}")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_missing")
    assert server.requests.count("GET", "/v1/videos/{video_id}") == before + 1
    assert server.requests.count("get", "/v1/videos/{video_id}", 404) >= 1
    assert server.requests.records()[-1] == ("GET", "/v1/videos/{video_id}", 404)
    assert len(server.requests) >= 1


def test_lifecycle_queued_then_in_progress_rising_then_completed(sdk: Any) -> None:
    with start(job_seconds=1.5, poll_after_ms=30) as server:
        client = sdk(server)
        video = client.videos.create(prompt="A clock whose hands move", size="1280x720")
        seen = [(video.status, video.progress)]
        while video.status not in ("completed", "failed"):
            raw = client.videos.with_raw_response.retrieve(video.id)
            video = raw.parse()
            seen.append((video.status, video.progress))
            if video.status != "completed":
                time.sleep(int(raw.headers["openai-poll-after-ms"]) / 1000)
        assert video.status == "completed" and video.progress == 100
        statuses = [s for s, _ in seen]
        assert statuses[0] == "queued" and "in_progress" in statuses
        assert statuses.index("in_progress") < statuses.index("completed")
        progress = [p for s, p in seen if s == "in_progress"]
        assert progress == sorted(progress) and all(0 < p < 100 for p in progress)
        assert len(set(progress)) > 1  # it rises
        assert video.completed_at is not None and video.completed_at >= video.created_at


def test_stop_is_idempotent_and_the_port_closes() -> None:
    server = start(faults=FaultConfig())
    port = server.port
    server.stop()
    server.stop()
    assert "stopped" in repr(server)
    with socket.socket() as probe_socket:
        assert probe_socket.connect_ex(("127.0.0.1", port)) != 0


# A stand-in renderer for the failure paths below: the server's workers import this module
# by name (tests/local is on sys.path) when a test points the server at it.
from sora_nb.local.render import RenderSpec  # noqa: E402


def render(spec: RenderSpec, out_dir: Any) -> None:
    if "crash" in spec.prompt:
        os._exit(3)  # the worker process dies mid-render
    raise RuntimeError(f"boom while rendering {spec.prompt!r}")


def test_render_errors_and_dead_workers_fail_the_job_not_the_server(
    monkeypatch: pytest.MonkeyPatch, sdk: Any
) -> None:
    import sora_nb.local.server as server_module

    monkeypatch.setattr(server_module, "_render_module", __name__)
    with start(job_seconds=0, workers=1) as server:
        client = sdk(server)
        failed = client.videos.create_and_poll(prompt="A boom", poll_interval_ms=20)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == "internal_error" and "boom" in failed.error.message
        crashed = client.videos.create_and_poll(prompt="A crash", poll_interval_ms=20)
        assert crashed.status == "failed" and crashed.error is not None
        assert "worker process died" in crashed.error.message
        again = client.videos.create_and_poll(prompt="A boom again", poll_interval_ms=20)
        assert again.error is not None and "boom" in again.error.message  # a fresh pool
        assert client.videos.list().data[0].id == again.id


KILLED_SERVER = """
import sys, warnings
warnings.simplefilter("ignore")
import openai
from sora_nb.local import start
server = start(job_seconds=0)
client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
client.videos.create_and_poll(prompt="A job that starts the render workers")
print(" ".join(map(str, server._ctx.renderer.worker_pids())), flush=True)
sys.stdin.read()  # wait to be killed
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_render_workers_exit_when_their_server_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "killed_server.py"
    script.write_text(KILLED_SERVER)
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=root, env=env)
    assert proc.stdout is not None
    workers = [int(pid) for pid in proc.stdout.readline().split()]
    assert workers and all(_alive(pid) for pid in workers)
    proc.kill()  # no stop(), no atexit: as when a kernel is killed
    proc.wait()
    deadline = time.monotonic() + 30  # a bound on waiting, not a speed requirement
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
