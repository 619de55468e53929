"""Content is served while renders queue: a finished job's files never wait behind the
render queue (each queued render once held a thread of the loop's default executor, which
aiohttp's FileResponse needs too; with 30 queued, a thumbnail took 35 s)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from reliability import record

import sora_nb.local.server as server_module
from sora_nb.local import start

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

QUEUED = 30
#: A bound on waiting for the server to reach a state (not a speed requirement).
WAIT_SECONDS = 60.0


@pytest.mark.slow
def test_a_thumbnail_is_served_while_thirty_renders_wait(
    monkeypatch: pytest.MonkeyPatch, sdk: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr(server_module, "_render_module", "stand_in_render")
    gate = tmp_path / "gate"
    with start(job_seconds=0, poll_after_ms=20, workers=1) as server:
        client = sdk(server)
        done = client.videos.create_and_poll(prompt="A finished clip", poll_interval_ms=20)
        assert done.status == "completed"
        held = [client.videos.create(prompt=f"gate:{gate} queued {i}") for i in range(QUEUED)]
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and any(
            client.videos.retrieve(v.id).status == "queued" for v in held
        ):
            time.sleep(0.05)
        # Every held job is now rendering or waiting for the one worker, gate closed.
        response = httpx2.get(server.content_url(done.id, "thumbnail"), timeout=30,
                              headers={"Authorization": f"Bearer {server.api_key}"})
        statuses = [client.videos.retrieve(v.id).status for v in held]
        gate.touch()
        record("server.content_while_renders_queue", tried=1,
               held=int(response.status_code == 200), note=f"{QUEUED} renders queued")
        assert response.status_code == 200 and response.content.startswith(b"stand-in")
        # served while not one of the held renders had finished: ordering, not timing
        assert statuses == ["in_progress"] * QUEUED
        last = client.videos.poll(held[-1].id, poll_interval_ms=20)
        assert last.status == "completed"  # and the queue drains once the gate opens
