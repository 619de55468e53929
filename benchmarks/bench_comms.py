"""Widget traffic: comm messages and bytes on IOPub for one live card and for a 20-card
``snb.compare`` grid, in a real ipykernel started with jupyter_client (as
tests/test_kernel_live.py does), from the display until the jobs finished and settled.
Bytes are the JSON of each message's content plus its binary buffers.

Baseline for the card: the same job shown as its static ``_repr_html_`` snapshot (the
HTML a front end without widgets gets), also measured on IOPub."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._harness import ROOT, Row

COMM = ("comm_open", "comm_msg")
GRID = 20
SETTLE = 3  # seconds after the jobs finished: the last updates and the thumbnail arrive


class _Kernel:
    def __init__(self, cwd: str, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        spec = self.km.kernel_spec
        assert spec is not None
        spec.argv[0] = sys.executable  # this virtualenv's python, whatever is on PATH
        self.km.start_kernel(cwd=cwd, env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 300) -> list[dict[str, Any]]:
        """Execute ``code``; every IOPub message until its idle status (any parent)."""
        msg_id = self.kc.execute(code)
        seen: list[dict[str, Any]] = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            seen.append(msg)
            if (msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id
                    and msg["content"]["execution_state"] == "idle"):
                break
        reply = self.kc.get_shell_msg(timeout=timeout)
        if reply["content"]["status"] != "ok":
            errors = [m["content"] for m in seen if m["msg_type"] == "error"]
            raise RuntimeError(f"cell failed: {code!r}: {errors or reply['content']}")
        return seen

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _weigh(msgs: list[dict[str, Any]], kinds: tuple[str, ...]) -> tuple[int, int, int]:
    """(comm_open count, message count, bytes) of ``kinds`` messages."""
    chosen = [m for m in msgs if m["msg_type"] in kinds]
    size = sum(len(json.dumps(m["content"])) + sum(len(b) for b in m.get("buffers") or [])
               for m in chosen)
    return sum(m["msg_type"] == "comm_open" for m in chosen), len(chosen), size


def main() -> list[Row]:
    from sora_nb import local

    prompts = [f"A paper boat drifting down a rain gutter, variation {k}: "
               f"{['dawn', 'noon', 'dusk', 'night'][k % 4]} light, lens {20 + k} mm"
               for k in range(GRID)]
    with tempfile.TemporaryDirectory(prefix="sora_nb-bench-comms-") as tmp, \
            local.start(job_seconds=2) as server:
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND")}
        env.update(PYTHONPATH=str(ROOT), SORA_NB_CACHE_DIR=str(Path(tmp) / "cache"),
                   SORA_NB_TEST_URL=server.base_url, SORA_NB_TEST_KEY=server.api_key)
        kernel = _Kernel(tmp, env)
        try:
            kernel.run("import os, time\nimport sora_nb as snb\n"
                       "snb.configure(backend='local', base_url=os.environ['SORA_NB_TEST_URL'],"
                       " api_key=os.environ['SORA_NB_TEST_KEY'])\n")
            card = kernel.run("job = snb.SoraJob('A kite over a windy beach', seconds=4, "
                              "cache=False)\njob")
            card += kernel.run(f"job.wait(timeout=300); time.sleep({SETTLE})")
            static = kernel.run("from IPython.display import HTML, display\n"
                                "display(HTML(job._repr_html_()))")
            grid = kernel.run(f"grid = snb.compare({prompts!r}, seconds=4, cache=False)\n"
                              "grid")
            grid += kernel.run(f"grid.wait(timeout=600); time.sleep({SETTLE})")
        finally:
            kernel.close()
    c_opens, c_msgs, c_bytes = _weigh(card, COMM)
    _, _, s_bytes = _weigh(static, ("display_data",))
    g_opens, g_msgs, g_bytes = _weigh(grid, COMM)
    per_card = g_bytes / GRID
    return [
        Row("one card, comm traffic until done", f"{c_bytes / 1e3:.1f} kB in {c_msgs} msgs",
            f"{s_bytes / 1e3:.1f} kB (static HTML snapshot)", c_bytes / s_bytes,
            "< 50 kB per card", c_bytes < 50_000),
        Row("one card, comms opened", str(c_opens), "-", None, "< 10", c_opens < 10),
        Row(f"{GRID}-card compare grid, comm traffic", f"{g_bytes / 1e6:.2f} MB in {g_msgs} "
            f"msgs, {g_opens} comms", "-", None, "< 50 kB and < 10 comms per card",
            per_card < 50_000 and g_opens / GRID < 10,
            note=f"{per_card / 1e3:.1f} kB and {g_opens / GRID:.1f} comms per card"),
    ]


if __name__ == "__main__":
    for row in main():
        print(row.line())
