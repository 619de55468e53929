"""The live card inside a real ipykernel (started with jupyter_client): the progress bar's
comm updates reach iopub WHILE a cell is busy, both a cell blocked in ``job.wait()`` and a
cell in ``time.sleep()``; and the job's display carries the widget view."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from sora_nb.local import LocalServer, start

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Kernel:
    """A real kernel and its client; ``run`` executes a cell and returns every iopub
    message of that cell from its busy status to its idle status."""

    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.comms: dict[str, str] = {}  # comm id -> widget model name

    def run(self, code: str, timeout: float = 60) -> list[dict[str, Any]]:
        msg_id = self.kc.execute(code)
        during: list[dict[str, Any]] = []
        busy = False
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_open":
                state = content["data"].get("state", {})
                self.comms[content["comm_id"]] = state.get("_model_name", "")
            # Updates sent from the runtime thread may carry another cell's parent header (or
            # none): what counts is that they arrive between this cell's busy and idle.
            if kind == "status" and msg["parent_header"].get("msg_id") == msg_id:
                if content["execution_state"] == "busy":
                    busy = True
                elif content["execution_state"] == "idle" and busy:
                    break
                continue
            if busy:
                during.append(msg)
        reply = self.kc.get_shell_msg(timeout=timeout)
        errors = [m["content"] for m in during if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors or reply["content"]
        return during

    def progress_values(self, msgs: list[dict[str, Any]]) -> list[int]:
        """The ``value``s sent to IntProgress models in ``msgs`` (comm update messages)."""
        values = []
        for m in msgs:
            c = m["content"]
            if (m["msg_type"] == "comm_msg" and self.comms.get(c["comm_id"]) == "IntProgressModel"
                    and c["data"].get("method") == "update" and "value" in c["data"]["state"]):
                values.append(int(c["data"]["state"]["value"]))
        return values


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalServer]:
    with start(job_seconds=4, poll_after_ms=150) as srv:
        yield srv


@pytest.fixture(scope="module")
def kernel(backend: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    work = tmp_path_factory.mktemp("notebook")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        SORA_NB_CACHE_DIR=str(work / "cache"),
        # how the kernel reaches this test's backend (read by the first cell, never printed)
        SORA_NB_TEST_URL=backend.base_url,
        SORA_NB_TEST_KEY=backend.api_key,
    )
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this virtualenv's python, whatever is on PATH
    km.start_kernel(cwd=str(work), env=env)
    k = Kernel(km)
    k.run(
        "import os, time\n"
        "import sora_nb as snb\n"
        "snb.configure(backend='local', base_url=os.environ['SORA_NB_TEST_URL'],\n"
        "              api_key=os.environ['SORA_NB_TEST_KEY'])\n"
    )
    try:
        yield k
    finally:
        k.kc.stop_channels()
        km.shutdown_kernel(now=True)


def display_job(kernel: Kernel, name: str, prompt: str) -> None:
    msgs = kernel.run(f"{name} = snb.SoraJob({prompt!r}, seconds=4, cache=False)\n{name}")
    # a display with a display id (so it can turn static when final), not an execute_result
    shown = [m["content"] for m in msgs if m["msg_type"] == "display_data"]
    assert len(shown) == 1 and WIDGET_VIEW in shown[0]["data"]
    assert shown[0]["transient"]["display_id"]
    data = shown[0]["data"]
    assert "sora-nb-bar" in data["text/html"] and data["text/plain"].startswith("<SoraJob")
    assert "IntProgressModel" in kernel.comms.values()


def test_progress_moves_while_a_cell_blocks_in_wait(kernel: Kernel) -> None:
    display_job(kernel, "job", "A lighthouse beam sweeping the fog")
    during = kernel.run("job.wait(timeout=60); None")
    values = kernel.progress_values(during)
    assert len(set(values)) >= 3, values
    assert values[-1] == 100 and values == sorted(values)
    # throttled: at most one bar update per flush, never one per poll and per trait
    assert len(values) == len(set(values)) or len(values) <= 2 * len(set(values))


def test_progress_moves_while_another_cell_sleeps(kernel: Kernel) -> None:
    display_job(kernel, "job2", "A kite over a windy beach")
    during = kernel.run("time.sleep(6)")
    values = kernel.progress_values(during)
    assert len(set(values)) >= 3, values
    assert values == sorted(values)
    done = kernel.run("print(job2.status, job2.progress)")
    out = "".join(m["content"].get("text", "") for m in done if m["msg_type"] == "stream")
    assert out.strip() == "completed 100"


def _comm_bytes(msg: dict[str, Any]) -> int:
    import json

    return len(json.dumps(msg["content"], default=str)) + sum(
        len(b) for b in msg.get("buffers") or []
    )


def test_a_completed_card_is_light_and_turns_static(kernel: Kernel) -> None:
    """No media bytes through the comm: < 10 comms and < 50 kB per completed card; once
    the job is final, its display is replaced by a bundle with no widget view, with a
    <video> whose poster is the thumbnail, both linked under sora_nb_media/."""
    msgs = kernel.run("job4 = snb.SoraJob('A red balloon over a town square', seconds=4, "
                      "cache=False)\njob4")
    shown = [m for m in msgs if m["msg_type"] == "display_data"]
    assert len(shown) == 1 and WIDGET_VIEW in shown[0]["content"]["data"]
    display_id = shown[0]["content"]["transient"]["display_id"]
    opened = {m["content"]["comm_id"] for m in msgs if m["msg_type"] == "comm_open"}
    traffic = [m for m in msgs if m["msg_type"] in ("comm_open", "comm_msg")]
    kernel.run("job4.wait(timeout=60); None")
    # Read on until the display turns static (the media are fetched after "completed").
    final: dict[str, Any] | None = None
    while final is None:
        msg = kernel.kc.get_iopub_msg(timeout=60)
        if msg["msg_type"] in ("comm_open", "comm_msg"):
            traffic.append(msg)
            if msg["msg_type"] == "comm_open":
                opened.add(msg["content"]["comm_id"])
        if (msg["msg_type"] == "update_display_data"
                and msg["content"]["transient"]["display_id"] == display_id
                and WIDGET_VIEW not in msg["content"]["data"]):
            final = msg["content"]["data"]
    ours = [m for m in traffic if m["content"]["comm_id"] in opened]
    total = sum(_comm_bytes(m) for m in ours)
    print(f"one completed card: {len(opened)} comms, {len(ours)} messages, {total} bytes")
    assert len(opened) < 10, sorted(kernel.comms[c] for c in opened)
    assert total < 50_000
    assert not any(m.get("buffers") for m in ours)  # no media bytes
    html = final["text/html"]
    assert 'data-status="completed"' in html and "A red balloon over a town square" in html
    assert '<video class="sora-nb-video" controls' in html
    # linked relative to the notebook's folder (files outside it under sora_nb_media/)
    src = re.search(r'<video [^>]*src="([^"]+)"', html)
    poster = re.search(r'<video [^>]*poster="([^"]+)"', html)
    assert src and src[1].endswith(".mp4") and not re.match(r"^(?:/|[a-z]+:)", src[1])
    # the poster inline (JupyterLab does not resolve a relative poster): a small JPEG
    assert poster and poster[1].startswith("data:image/jpeg;base64,")
    assert len(poster[1]) < 60_000
    assert final["text/plain"].startswith("<SoraJob video_")
