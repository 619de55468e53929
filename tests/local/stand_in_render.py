"""A stand-in renderer for server tests that are about the server, not the pictures: it
writes three tiny files at once, or, for a prompt ``gate:<path> ...``, first waits until the
file ``<path>`` exists (at most ``GATE_SECONDS``), so a test can hold renders in the queue.

The server's worker processes import this module by name (tests/local is on sys.path) when a
test sets ``sora_nb.local.server._render_module = "stand_in_render"``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sora_nb.local.render import RenderSpec

__all__ = ["GATE_SECONDS", "RenderSpec", "render"]

#: The longest a gated render waits for its gate: a bound, so a failing test still ends.
GATE_SECONDS = 120.0


@dataclass(frozen=True)
class Result:
    video: Path
    thumbnail: Path
    spritesheet: Path


def render(spec: RenderSpec, out_dir: Path) -> Result:
    if spec.prompt.startswith("gate:"):
        gate = Path(spec.prompt[len("gate:"):].split(" ", 1)[0])
        deadline = time.monotonic() + GATE_SECONDS
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    out = Path(out_dir)
    files = Result(out / "video.mp4", out / "thumbnail.webp", out / "spritesheet.jpg")
    for path in (files.video, files.thumbnail, files.spritesheet):
        path.write_bytes(f"stand-in {path.name} for {spec.prompt}".encode())
    return files
