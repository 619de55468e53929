"""Crash tests: a process using sora_nb is killed with SIGKILL right after ``SoraJob()``
returns, while the job renders, and halfway through a download. Nothing may be lost (the
id is in the journal; ``attach`` + ``download`` in a new process gives a decodable MP4)
and no temp file may be left once the new process has downloaded.

Each side is a real ``python`` subprocess sharing one cache dir and one embedded server
(run by the test process); downloads go through a throttled proxy so that "halfway" lasts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sora_nb as snb
from sora_nb._ffmpeg import probe
from sora_nb.local import LocalServer, start

from ._proxy import LossyProxy, ProxyFaults, lossy_proxy
from ._report import Ledger
from .test_soak import temp_files

pytestmark = pytest.mark.slow

PROMPT = "A crash test clip of a lighthouse"

# The child: creates a job, says so on stdout, then does what the mode says. The key
# travels in the environment, never on a command line (where `ps` would show it).
CHILD = r"""
import os, sys, time
import sora_nb as snb
snb.configure(backend="local", base_url=os.environ["REL_BASE_URL"],
              api_key=os.environ["REL_API_KEY"],
              poll=snb.PollPolicy(min_interval=0.05, max_interval=0.2))
mode = sys.argv[1]
if mode == "resume":
    job = snb.SoraJob.attach(sys.argv[2])
    print("path", job.download(), flush=True)
    raise SystemExit(0)
job = snb.SoraJob(os.environ["REL_PROMPT"], seconds=4, size="720x1280", enhance=False,
                  cache=False)
print("created", job.id, flush=True)
if mode == "mid_render":
    job.on_progress(lambda s: print("progress", s.status, s.progress, flush=True))
elif mode == "mid_download":
    job.wait()
    print("downloading", flush=True)
    job.download()
    print("downloaded", flush=True)
time.sleep(120)
"""


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[LocalServer, LossyProxy]]:
    # ~24 chunks of 16 kB at 0.1 s each: a download takes a couple of seconds.
    with start(job_seconds=2.0, poll_after_ms=50) as server, \
            lossy_proxy(server.base_url, ProxyFaults(throttle=0.1)) as proxy:
        yield server, proxy


def _env(backend: tuple[LocalServer, LossyProxy], cache: Path) -> dict[str, str]:
    server, proxy = backend
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND")}
    env.update(SORA_NB_CACHE_DIR=str(cache), REL_BASE_URL=proxy.base_url,
               REL_API_KEY=server.api_key, REL_PROMPT=PROMPT, PYTHONUNBUFFERED="1")
    return env


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen[str], ready: object,
               media: Path | None = None) -> tuple[str, str]:
    """Read the child's lines until ``ready(line)`` says so (and, with ``media``, until a
    temp file is being written there); then SIGKILL it. Returns the job id and the moment
    (the child's last line, and the temp file's size)."""
    assert proc.stdout is not None
    video_id = moment = ""
    for line in proc.stdout:
        if line.startswith("created "):
            video_id = line.split()[1]
        if callable(ready) and ready(line):
            moment = line.split(" video_")[0].strip()
            break
    else:
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"the child ended early (exit {proc.returncode}): {err[-2000:]}")
    if media is not None:
        folder = media / video_id
        deadline = time.monotonic() + 60
        while not (partial := [p for p in folder.glob(".*") if p.stat().st_size > 0]):
            assert time.monotonic() < deadline, "no download in progress to interrupt"
            assert proc.poll() is None, "the child finished before it could be killed"
            time.sleep(0.02)
        moment += f", temp file at {partial[0].stat().st_size:,} B"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return video_id, moment


def _resume(env: dict[str, str], video_id: str) -> Path:
    """A new process attaches to the job and downloads it."""
    done = subprocess.run([sys.executable, "-c", CHILD, "resume", video_id], env=env,
                          text=True, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return Path(done.stdout.split("path ", 1)[1].strip())


MODES = {
    "after_create": lambda line: line.startswith("created "),
    "mid_render": lambda line: line.startswith("progress in_progress")
    and 0 < int(line.split()[2]) < 100,
    "mid_download": lambda line: line.startswith("downloading"),
}
WHEN = {
    "after_create": "right after SoraJob() returned",
    "mid_render": "while the job rendered (in_progress, 0 < progress < 100)",
    "mid_download": "halfway through a download (its temp file growing)",
}


@pytest.mark.parametrize("mode", list(MODES))
def test_kill_9_loses_nothing(
    mode: str, backend: tuple[LocalServer, LossyProxy], cache: Path, ledger: Ledger
) -> None:
    env = _env(backend, cache)
    proc = _spawn(env, mode)
    try:
        media = cache / "media" if mode == "mid_download" else None
        video_id, moment = _kill_when(proc, MODES[mode], media)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert video_id.startswith("video_")
    # The dead process's job is in the journal, read by this (third) process.
    assert video_id in {entry.id for entry in snb.history(include_deleted=True)}
    left = len(temp_files(cache))
    path = _resume(env, video_id)
    assert path.is_relative_to(cache)
    info = probe(path, decode=True)
    assert (info.width, info.height, info.frames) == (720, 1280, 96)
    assert temp_files(cache) == []
    ledger.record(
        "crash", f"SIGKILL {WHEN[mode]}", "once per run",
        "the id was in the journal; attach + download in a new process gave a decodable "
        "MP4; no temp file left",
        f"killed at '{moment}'; {left} temp file(s) left by the dead process, swept",
    )
