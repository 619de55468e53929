"""Regenerate the README's screenshots under docs/: the live card (queued, running, fetching,
completed, failed), the compare grid and the gallery, taken in a real JupyterLab in
Debian's Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs]

A local backend of the script's own renders slowly enough (and answers with a little
latency) that every phase of the card stays on screen long enough to be photographed."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, lab_env, start_lab  # noqa: E402

CELLS = [
    "import os\nimport sora_nb as snb\n"
    "snb.configure(backend='local', base_url=os.environ['SHOTS_URL'],"
    " api_key=os.environ['SHOTS_KEY'])",
    "job = snb.SoraJob('A paper airplane gliding over a calm lake at sunrise', seconds=4,"
    " cache=False)\njob",
    "blocked = snb.SoraJob(f'A stormy sea at night {snb.local.MODERATION_MARKER}', seconds=4,"
    " cache=False)\nblocked",
    "grid = snb.compare(['A red kite flying over a green hill on a windy day',\n"
    "                    'A red kite flying over a snowy hill on a windy day',\n"
    "                    'A red kite flying over a green hill at dusk'], seconds=4,"
    " cache=False)\ngrid",
    "grid.wait()\njob.wait()\n[j.status for j in grid.jobs]",
    "snb.gallery(limit=6)",
]
# The first card's phase, read from the page: the live widget's status pill, or the static
# card's data-status once final.
FIRST_CARD = """
() => {
  const out = document.querySelectorAll('.jp-Cell')[1];
  if (!out) return null;
  const pill = out.querySelector('.sora-nb-status');
  const bar = out.querySelector('.widget-hprogress .progress-bar');
  const card = out.querySelector('.sora-nb-card');
  return {pill: pill ? pill.textContent : null, width: bar ? parseFloat(bar.style.width) : null,
          final: card ? card.dataset.status : null};
}
"""


def _notebook(root: Path) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / "screenshots.ipynb")
    return "screenshots.ipynb"


def _shoot(locator: Any, path: Path) -> None:
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path), animations="disabled")
    from PIL import Image

    with Image.open(path) as shot:  # 256 colours: a third of the bytes, same look
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}"
          f" ({path.stat().st_size // 1024} kB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs",
                        help="folder for the PNGs (default: docs/)")
    args = parser.parse_args(argv)
    if not CHROMIUM.is_file():
        parser.error(f"{CHROMIUM} is missing (apt-get install chromium)")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from sora_nb import local

    with tempfile.TemporaryDirectory(prefix="sora_nb-shots-") as tmp, local.start(
        job_seconds=14, poll_after_ms=250, faults=local.FaultConfig(latency=0.8, seed=1),
    ) as server:
        base = Path(tmp)
        root = base / "nb"
        root.mkdir()
        name = _notebook(root)
        env = lab_env(base, SHOTS_URL=server.base_url, SHOTS_KEY=server.api_key)
        lab = start_lab(root, base, env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000},
                                        device_scale_factor=1)
                page.goto(lab.url(name), wait_until="domcontentloaded")
                page.wait_for_function("() => document.documentElement.innerHTML"
                                       ".includes('Kernel status: Idle')", timeout=90_000)
                page.wait_for_timeout(1500)
                page.locator(".jp-Toast-close").evaluate_all("els => els.forEach(e => e.click())")
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                card = page.locator(".jp-Cell").nth(1).locator(".sora-nb-live").first
                wanted = {"queued": "card-queued.png", "running": "card-running.png",
                          "fetching": "card-fetching.png"}
                deadline = time.monotonic() + 180
                while wanted and time.monotonic() < deadline:
                    state = page.evaluate(FIRST_CARD) or {}
                    pill, width = state.get("pill"), state.get("width") or 0
                    key = {"queued": "queued", "fetching": "fetching"}.get(pill or "")
                    if pill == "in progress" and width >= 40:
                        key = "running"
                    if key in wanted:
                        _shoot(card, out / wanted[key])
                        after = page.evaluate(FIRST_CARD) or {}
                        # a phase that ended while the picture was taken is not kept: the
                        # queued phase of the embedded server lasts two seconds at most
                        if after.get("pill") == pill:
                            wanted.pop(key)
                        else:
                            (out / wanted[key]).unlink(missing_ok=True)
                    if state.get("final"):
                        break
                    page.wait_for_timeout(150)
                if wanted:
                    print(f"missed phases: {sorted(wanted)}", file=sys.stderr)
                page.wait_for_selector(".sora-nb-gallery video", timeout=180_000)
                page.wait_for_timeout(1000)  # posters paint
                page.locator(".jp-Toast-close").evaluate_all("els => els.forEach(e => e.click())")
                _shoot(page.locator('.sora-nb-card[data-status="completed"]').first,
                       out / "card-completed.png")
                _shoot(page.locator('.sora-nb-card[data-status="failed"]').first,
                       out / "card-failed.png")
                _shoot(page.locator(".sora-nb-compare").first, out / "grid.png")
                _shoot(page.locator(".sora-nb-gallery").first, out / "gallery.png")
                browser.close()
        finally:
            lab.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
