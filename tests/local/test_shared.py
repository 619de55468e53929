"""One backend per data folder (``local.shared``) and private files from creation
(``write_private``, used for the discovery file and ``sora-nb serve``'s key file)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability import record

from sora_nb.local import SharedBackend, shared
from sora_nb.local._shared import DISCOVERY_FILE, write_private

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent),
                                                    *sys.path])}

# Audit hooks cannot be removed: one hook for the session, recording only while a test
# watches a folder. "open" is raised by open() with (path, mode string, flags) and by
# os.open() with (path, None, flags); "os.chmod" by os.chmod, Path.chmod and os.fchmod.
# With umask 0, a file that ends 0600 without any chmod was created 0600: no window.
_watch: list[tuple[str, list[tuple[str, Any]]]] = []
_hook_lock = threading.Lock()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _watch or event not in ("open", "os.chmod"):
        return
    folder, events = _watch[-1]
    target = args[0]
    if event == "os.chmod" or (isinstance(target, (str, os.PathLike))
                               and str(target).startswith(folder)):
        events.append((event, args))


sys.addaudithook(_hook)


@pytest.fixture()
def watched(tmp_path: Path) -> Iterator[list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    old = os.umask(0)  # the worst umask: a file created 0666 would stay world-readable
    with _hook_lock:
        _watch.append((str(tmp_path), events))
        try:
            yield events
        finally:
            _watch.pop()
            os.umask(old)


def test_write_private_creates_the_file_0600_with_no_window(
    tmp_path: Path, watched: list[tuple[str, Any]]
) -> None:
    target = tmp_path / "secret.key"
    write_private(target, "sora-local-secret\n")
    write_private(target, "sora-local-replaced\n")  # replacing keeps it private too
    assert target.read_text() == "sora-local-replaced\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    creates = [args for event, args in watched if event == "open" and args[2] & os.O_CREAT]
    # created by os.open (mode None in the event: its permission bits are its argument),
    # exclusively, never by open() in a writing mode; and never chmod-ed afterwards
    assert len(creates) == 2 and all(args[1] is None and args[2] & os.O_EXCL
                                     for args in creates), creates
    assert not [e for e, _ in watched if e == "os.chmod"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no temp left


AUDITED_SERVE = """
import os, sys
def hook(event, args):  # see the comment above _hook: umask 0, no chmod, ends 0600
    if (event in ("open", "os.chmod") and "serve.key" in str(args[0]) and (
            event == "os.chmod" or (
            event == "open" and args[2] & os.O_CREAT and args[1] is not None))):
        print("UNSAFE", event, args, file=sys.stderr, flush=True)
sys.addaudithook(hook)
os.umask(0)
from sora_nb.cli import main
main(["serve", "--job-seconds", "0"])
"""


def test_serve_writes_its_key_file_0600_from_creation(tmp_path: Path) -> None:
    env = {**ENV, "SORA_NB_CACHE_DIR": str(tmp_path), "SORA_NB_LOCAL_API_KEY": "sora-local-k1"}
    proc = subprocess.Popen([sys.executable, "-c", AUDITED_SERVE], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert "listening at http://127.0.0.1:" in proc.stdout.readline()
        key_file = tmp_path / "serve.key"
        assert key_file.read_text() == "sora-local-k1\n"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "UNSAFE" not in err, err


OTHER_KERNEL = """
import sys, warnings
warnings.simplefilter("ignore")
import openai
import sora_nb.local.server as server_module
server_module._render_module = "stand_in_render"
from sora_nb.local import shared
backend = shared(sys.argv[1], job_seconds=0)
client = openai.OpenAI(base_url=backend.base_url, api_key=backend.api_key)
video = client.videos.create_and_poll(prompt="Made in the first kernel", poll_interval_ms=20)
print(backend.started, video.id, video.status, flush=True)
sys.stdin.read()  # live until the test is done
backend.stop()
"""


@pytest.mark.slow
def test_two_processes_on_one_folder_share_one_server(tmp_path: Path, sdk: Any) -> None:
    import openai

    folder = tmp_path / "local-backend"
    first = subprocess.Popen([sys.executable, "-c", OTHER_KERNEL, str(folder)], env=ENV,
                             text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert first.stdout is not None
        started, video_id, status = first.stdout.readline().split()
        assert (started, status) == ("True", "completed")
        info = json.loads((folder / DISCOVERY_FILE).read_text())
        assert stat.S_IMODE((folder / DISCOVERY_FILE).stat().st_mode) == 0o600
        assert info["pid"] == first.pid

        second = shared(folder, job_seconds=0)  # this test process: the second kernel
        assert not second.started and second.base_url == info["base_url"]
        assert second.api_key not in repr(second)
        client = openai.OpenAI(base_url=second.base_url, api_key=second.api_key,
                               max_retries=0)
        assert client.videos.retrieve(video_id).status == "completed"  # attachable
        content = client.videos.download_content(video_id, variant="thumbnail").read()
        assert content.startswith(b"stand-in")  # downloadable
        mine = client.videos.create(prompt="Made in the second kernel [moderation-block]")
        assert {v.id for v in client.videos.list().data} >= {video_id, mine.id}
        second.stop()  # not ours: the first kernel's server goes on
        assert client.videos.retrieve(mine.id).id == mine.id
    finally:
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=60)
    assert not (folder / DISCOVERY_FILE).exists()  # withdrawn by the process that wrote it
    record("server.shared_backend", tried=1, held=1, note="two processes, one data_dir")


def test_a_stale_discovery_file_starts_a_new_server(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    stale = {"pid": 1, "port": dead, "base_url": f"http://127.0.0.1:{dead}/v1",
             "api_key": "sora-local-stale"}
    write_private(tmp_path / DISCOVERY_FILE, json.dumps(stale))
    backend: SharedBackend = shared(tmp_path, job_seconds=0)
    try:
        assert backend.started and backend.base_url != stale["base_url"]
        info = json.loads((tmp_path / DISCOVERY_FILE).read_text())
        assert info["base_url"] == backend.base_url and info["pid"] == os.getpid()
        again = shared(tmp_path)  # the same process asking again finds its own server
        assert not again.started and again.base_url == backend.base_url
    finally:
        backend.stop()
    assert not (tmp_path / DISCOVERY_FILE).exists()


def test_shared_checks_its_folder_argument() -> None:
    from sora_nb._errors import SoraParameterError

    with pytest.raises(SoraParameterError) as err:
        shared(42)  # type: ignore[arg-type]
    assert err.value.param == "data_dir"
