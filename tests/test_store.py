"""The journal: every created job is recorded before SoraJob() returns, survives a new
process; cached media live in one safe folder per id inside the cache dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sora_nb as snb
from sora_nb import _store
from sora_nb.local import LocalServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_created_jobs_are_journaled_before_the_constructor_returns(
    local: LocalServer, cache: Path
) -> None:
    job = snb.SoraJob("A journaled jellyfish", seconds=4, cache=False)
    # read straight from the database file, as another process would
    import sqlite3

    with sqlite3.connect(cache / "journal.sqlite3") as conn:
        row = conn.execute("SELECT id, original_prompt FROM jobs ORDER BY seq DESC").fetchone()
    assert row == (job.id, "A journaled jellyfish")
    # the key is never journaled
    for name in ("journal.sqlite3", "journal.sqlite3-wal"):
        if (cache / name).exists():
            assert local.api_key.encode() not in (cache / name).read_bytes()
    job.wait()
    entry = next(e for e in snb.history() if e.id == job.id)
    assert entry.status == "completed" and entry.model == "sora-2" and entry.seconds == 4


@pytest.mark.slow
def test_history_survives_a_new_process(local: LocalServer, cache: Path) -> None:
    job = snb.SoraJob("Seen from another process", seconds=4, cache=False).wait()
    code = (
        "import sora_nb as snb\n"
        "print('\\n'.join(e.id + ' ' + e.status for e in snb.history()))\n"
    )
    env = {**os.environ, "SORA_NB_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert f"{job.id} completed" in out.splitlines()


def test_history_is_newest_first_and_hides_deleted(local: LocalServer) -> None:
    a = snb.SoraJob("First of two", seconds=4, cache=False)
    b = snb.SoraJob("Second of two", seconds=4, cache=False)
    ids = [e.id for e in snb.history()]
    assert ids.index(b.id) <= ids.index(a.id)
    _store.journal_event("deleted", id=a.id)
    assert a.id not in {e.id for e in snb.history()}
    assert a.id in {e.id for e in snb.history(include_deleted=True)}


def test_media_paths_live_in_the_cache_dir(cache: Path) -> None:
    assert _store.media_path("video_1", "thumbnail") == cache / "media/video_1/thumbnail.webp"
    assert _store.media_path("video_1", "video").parent == _store.media_dir("video_1")
    with pytest.raises(KeyError):
        _store.media_path("video_1", "poster")  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_plain_script_on_the_embedded_default_backend(tmp_path: Path) -> None:
    """The issue's "done when": in a plain python process (no main guard, no
    configuration) SoraJob returns, wait() completes, download() gives a playable MP4, and
    a second process sees the job in history()."""
    from sora_nb._ffmpeg import probe

    script = tmp_path / "plain.py"
    script.write_text(
        "import sora_nb as snb\n"
        "print('top level')\n"
        "job = snb.SoraJob('A plain script video', seconds=4)\n"
        "print(job.id, job.wait().status, job.download())\n"
    )
    env = {**os.environ, "SORA_NB_CACHE_DIR": str(tmp_path / "cache"),
           "SORA_NB_LOCAL_JOB_SECONDS": "0.5"}
    env.pop("SORA_NB_BACKEND", None)
    env.pop("OPENAI_API_KEY", None)
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=180, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "top level" and len(lines) == 2  # the script ran exactly once
    video_id, status, path = lines[1].split()
    assert status == "completed"
    assert probe(path, decode=True).has_video
    assert "embedded local Sora backend" in run.stderr
    later = subprocess.run(
        [sys.executable, "-c", "import sora_nb as snb; print([e.id for e in snb.history()])"],
        env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert video_id in later.stdout
