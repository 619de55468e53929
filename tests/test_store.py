"""The journal: every created job is recorded before SoraJob() returns, survives a new
process, and tolerates a torn last line."""

from __future__ import annotations

import json
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
    lines = [json.loads(line) for line in (cache / "journal.jsonl").read_text().splitlines()]
    created = [r for r in lines if r["event"] == "created"]
    assert created[-1]["id"] == job.id
    assert created[-1]["original_prompt"] == "A journaled jellyfish"
    # the key is never journaled
    assert local.api_key not in (cache / "journal.jsonl").read_text()
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


def test_a_torn_last_line_does_not_lose_the_rest(local: LocalServer, cache: Path) -> None:
    job = snb.SoraJob("Before the crash", seconds=4, cache=False)
    with (cache / "journal.jsonl").open("a") as fh:
        fh.write('{"event": "created", "id": "video_torn", "pro')
    assert job.id in {e.id for e in snb.history()}


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
    assert "using the embedded local backend" in run.stderr
    later = subprocess.run(
        [sys.executable, "-c", "import sora_nb as snb; print([e.id for e in snb.history()])"],
        env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert video_id in later.stdout
