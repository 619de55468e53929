"""Atomic writes leave nothing behind: a temporary file of a writer that died (even by
SIGKILL, mid-download) is swept by the next write in its folder; files being written, and
files sora_nb did not make, are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sora_nb as snb
from sora_nb import _fs, _store
from sora_nb._fs import TEMP_PATTERN, atomic_path, atomic_write_bytes, sweep_temps
from sora_nb.local import LocalServer

ROOT = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_PATTERN.match(p.name))


def test_temp_names_are_recognisable_and_keep_the_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "clip.mp4") as tmp:
        assert TEMP_PATTERN.match(tmp.name) and tmp.suffix == ".mp4"
        assert f"-{os.getpid()}-" in tmp.name
        tmp.write_bytes(b"x")
    assert temps(tmp_path) == [] and (tmp_path / "clip.mp4").read_bytes() == b"x"


def test_a_dead_writers_temp_goes_and_others_stay(tmp_path: Path) -> None:
    orphan = tmp_path / f".video.sora-tmp-{dead_pid()}-0123456789ab.mp4"
    orphan.write_bytes(b"half")
    mine = tmp_path / f".video.sora-tmp-{os.getpid()}-ba9876543210.mp4"
    mine.write_bytes(b"young, and its owner lives")
    strangers = [tmp_path / ".hidden", tmp_path / ".video.0123456789ab.mp4",
                 tmp_path / "video.mp4"]
    for path in strangers:
        path.write_bytes(b"not sora_nb's temp file")
    assert sweep_temps(tmp_path) == [orphan]
    assert mine.exists() and all(p.exists() for p in strangers)
    # an unlocked temp file long past the grace period goes, whoever its owner
    assert sweep_temps(tmp_path, now=time.time() + _fs.GRACE_SECONDS + 1) == [mine]


def test_a_temp_being_written_is_never_swept(tmp_path: Path) -> None:
    later = time.time() + 10 * _fs.GRACE_SECONDS
    swept: list[list[Path]] = []
    with atomic_path(tmp_path / "busy.bin") as tmp:
        tmp.write_bytes(b"in progress")
        other = threading.Thread(target=lambda: swept.append(sweep_temps(tmp_path, now=later)))
        other.start()
        other.join()
        assert tmp.exists()
    assert swept == [[]] and (tmp_path / "busy.bin").read_bytes() == b"in progress"


def test_the_next_write_in_a_folder_sweeps_it(tmp_path: Path) -> None:
    orphan = tmp_path / f".thumbnail.sora-tmp-{dead_pid()}-0123456789ab.webp"
    orphan.write_bytes(b"half")
    _fs._swept.pop(tmp_path, None)
    atomic_write_bytes(tmp_path / "other.txt", b"ok")
    assert temps(tmp_path) == []


CHILD = """
import os, sys, time
import sora_nb as snb
from sora_nb import _download as _media

real = _media.atomic_path

class Stall:
    # The download's temp file has its bytes; the process is killed before the rename.
    def __init__(self, target):
        self.inner = real(target)
    def __enter__(self):
        return self.inner.__enter__()
    def __exit__(self, *exc):
        print("mid-download", flush=True)
        time.sleep(600)

_media.atomic_path = Stall
job = snb.SoraJob.attach(sys.argv[1])
job.download()
"""


@pytest.mark.slow
def test_a_download_killed_mid_way_leaves_no_temp_file(local: LocalServer, cache: Path) -> None:
    job = snb.SoraJob("A download cut by SIGKILL", seconds=4, cache=False).wait()
    env = {**os.environ, "SORA_NB_CACHE_DIR": str(cache), "SORA_NB_BACKEND": "openai",
           "OPENAI_BASE_URL": local.base_url, "OPENAI_API_KEY": local.api_key}
    child = subprocess.Popen([sys.executable, "-c", CHILD, job.id], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "mid-download\n"
        folder = _store.media_path(job.id, "video").parent
        assert len(temps(folder)) == 1  # the half-done download is there
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.wait()
    _fs._swept.clear()  # this process may have swept the folder a moment ago
    path = job.download()
    assert path.stat().st_size > 0
    assert temps(path.parent) == []
