"""A data_dir outlives its server: a later start() on it serves the same jobs (downloads
included), re-renders jobs that were unfinished, and keeps idempotency keys."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from sora_nb._ffmpeg import probe
from sora_nb.local import MODERATION_MARKER, start

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def client_of(server: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.api_key,  # type: ignore[attr-defined]
                         max_retries=0)


def test_jobs_survive_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "backend"
    with start(job_seconds=0, data_dir=data, api_key="sora-local-first-key") as first:
        client = client_of(first)
        done = client.videos.create_and_poll(prompt="A lighthouse that outlives its server",
                                             extra_headers={"Idempotency-Key": "lighthouse"})
        unfinished = client.videos.create(prompt="A tide that was still rendering",
                                          seconds="4", size="1280x720")
        moderated = client.videos.create(prompt=f"{MODERATION_MARKER} later")
    # The first server was stopped with `unfinished` queued or rendering.
    assert json.loads((data / "jobs" / f"{unfinished.id}.json").read_text())["status"] != (
        "completed")

    with start(job_seconds=0, data_dir=data) as second:  # a new key, the same jobs
        client = client_of(second)
        assert client.videos.retrieve(done.id).status == "completed"
        client.videos.download_content(done.id).write_to_file(tmp_path / "kept.mp4")
        assert probe(tmp_path / "kept.mp4", decode=True).size == done.size

        again = client.videos.poll(unfinished.id, poll_interval_ms=20)
        assert again.status == "completed", again.error  # rendered anew by this server
        client.videos.download_content(again.id).write_to_file(tmp_path / "late.mp4")
        info = probe(tmp_path / "late.mp4", decode=True)
        assert info.size == "1280x720" and info.has_audio

        assert client.videos.poll(moderated.id).error.code == "moderation_blocked"  # type: ignore[union-attr]
        same = client.videos.create(prompt="A lighthouse that outlives its server",
                                    extra_headers={"Idempotency-Key": "lighthouse"})
        assert same.id == done.id
        ids = {v.id for v in client.videos.list()}
        assert ids == {done.id, unfinished.id, moderated.id}
        assert repr(second).endswith("jobs=3>")


def test_a_killed_writers_temporary_job_file_is_not_a_job(tmp_path: Path) -> None:
    data = tmp_path / "backend"
    with start(job_seconds=60, data_dir=data) as first:
        client = client_of(first)
        video = client.videos.create(prompt=f"{MODERATION_MARKER} deleted for good")
        # what a server killed while rewriting the job's file leaves beside it
        job_file = data / "jobs" / f"{video.id}.json"
        stale = job_file.with_name(f".{video.id}.sora-tmp-999999999-0123456789ab.json")
        stale.write_bytes(job_file.read_bytes())
        client.videos.delete(video.id)
    with start(job_seconds=60, data_dir=data) as second, pytest.raises(openai.NotFoundError):
        client_of(second).videos.retrieve(video.id)  # not brought back from the temporary file


def test_without_data_dir_the_temporary_folder_goes_on_stop() -> None:
    server = start(job_seconds=0)
    folder = server.data_dir
    assert folder.is_dir()
    server.stop()
    assert not folder.exists()
    server.stop()  # idempotent


def test_a_kept_data_dir_is_not_removed(tmp_path: Path) -> None:
    with start(data_dir=tmp_path / "kept") as server:
        assert server.data_dir == tmp_path / "kept"
    assert (tmp_path / "kept" / "jobs").is_dir()
