"""The ``sora-nb`` command, run as a real subprocess against a real local backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_nb._ffmpeg import probe
from sora_nb.local import LocalServer

pytestmark = pytest.mark.slow


def _run(args: list[str], server: LocalServer, cache: Path) -> subprocess.CompletedProcess[str]:
    # SORA_NB_PROFILE: the server runs in this (another) process, so the subprocess cannot
    # tell it is sora_nb's own Sora-dialect server; a user of such a server says so
    env = {**os.environ, "SORA_NB_CACHE_DIR": str(cache), "SORA_NB_BACKEND": "openai",
           "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key,
           "SORA_NB_PROFILE": "sora"}
    return subprocess.run([sys.executable, "-m", "sora_nb.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_generate_list_status(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = tmp_path / "clip.mp4"
    gen = _run(["generate", "A lantern in fog", "--seconds", "4", "--out", str(out)],
               server, cache)
    assert gen.returncode == 0, gen.stderr
    assert gen.stdout.strip() == str(out)
    assert abs(probe(out, decode=True).duration - 4) <= 1 / 24
    video_id = gen.stderr.split(":")[0].strip()
    assert video_id.startswith("video_")
    assert server.api_key not in gen.stdout + gen.stderr
    listed = _run(["list"], server, cache)
    assert video_id in listed.stdout and "A lantern in fog" in listed.stdout
    status = _run(["status", video_id], server, cache)
    assert status.stdout.startswith(f"{video_id} completed 100%")


def test_bad_input_exits_1_with_a_clear_message(server: LocalServer, tmp_path: Path) -> None:
    bad = _run(["generate", "x", "--model", "sora-9"], server, tmp_path)
    assert bad.returncode == 1
    assert "model='sora-9'" in bad.stderr and "sora-2" in bad.stderr
    missing = _run(["status", "video_nope"], server, tmp_path)
    assert missing.returncode == 1 and "404" in missing.stderr


def test_serve_runs_a_backend_that_the_sdk_can_use(tmp_path: Path) -> None:
    import signal
    import warnings

    import openai

    env = {**os.environ, "SORA_NB_CACHE_DIR": str(tmp_path), "SORA_NB_LOCAL_API_KEY":
           "sora-local-cli-test-key"}
    proc = subprocess.Popen([sys.executable, "-m", "sora_nb.cli", "serve", "--job-seconds",
                             "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=base_url, api_key="sora-local-cli-test-key")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            video = client.videos.create_and_poll(prompt="From the CLI server", seconds="4",
                                                  poll_interval_ms=100)
        assert video.status == "completed"
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    assert "sora-local-cli-test-key" not in line + rest + err
    assert proc.returncode == 0


def test_serve_dialect_answers_as_that_server(tmp_path: Path) -> None:
    import re
    import signal

    import httpx2

    from sora_nb.local import MODERATION_MARKER

    env = {**os.environ, "SORA_NB_CACHE_DIR": str(tmp_path), "SORA_NB_LOCAL_API_KEY":
           "sora-local-cli-test-key"}
    proc = subprocess.Popen([sys.executable, "-m", "sora_nb.cli", "serve", "--dialect",
                             "vllm-omni", "--job-seconds", "30"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "(vllm-omni dialect)" in line
        base_url = line.rsplit(" ", 1)[-1].strip()
        # a prompt that is never rendered: only the answer's shape matters here
        created = httpx2.post(f"{base_url}/videos", data={"prompt": f"{MODERATION_MARKER} x"},
                              headers={"Authorization": "Bearer sora-local-cli-test-key"})
        assert created.status_code == 200
        assert re.fullmatch(r"video_gen_[0-9a-f]{32}", created.json()["id"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_generic_profile_and_extra_from_the_command_line(server: LocalServer,
                                                         tmp_path: Path) -> None:
    bad = _run(["generate", "x", "--profile", "generic", "--seconds", "7.5"], server, tmp_path)
    assert bad.returncode == 1 and "seconds='7.5'" in bad.stderr and "never rounded" in bad.stderr
    odd = _run(["generate", "x", "--extra", "[1]"], server, tmp_path)
    assert odd.returncode == 1 and "--extra" in odd.stderr
