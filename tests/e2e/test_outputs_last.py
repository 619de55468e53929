"""Outputs that outlive the kernel, in a real JupyterLab in Debian's Chromium: a notebook of
every view (job card, failed card, compare grid, show() player, spritesheet scrubber,
gallery) is run, saved and closed; reopened with no kernel at all, and converted by
nbconvert and opened with the network cut, it shows every card in its final state and
plays the video. Never "Error displaying widget"."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import KERNEL_READY, Lab, lab_env, offline_context, start_lab

pytestmark = pytest.mark.e2e

NOTEBOOK = "views.ipynb"
CELLS = [
    "import sora_nb as snb",
    "job = snb.SoraJob('A paper airplane gliding over a calm lake', seconds=4)\njob",
    "blocked = snb.SoraJob(f'A stormy sea at night {snb.local.MODERATION_MARKER}', seconds=4)\n"
    "blocked",
    "grid = snb.compare(['A red kite over a green hill', 'A red kite over a snowy hill'],"
    " seconds=4)\ngrid",
    "grid.wait()\njob.wait()\ntry:\n    blocked.wait()\nexcept snb.SoraJobFailed as exc:\n"
    "    print('failed:', exc.code)",
    "job.show()",
    "job.show('spritesheet')",
    "snb.gallery(limit=3)",
]
# Every card, grid and gallery final; nothing live left on the page.
ALL_FINAL = """
() => {
  const cards = [...document.querySelectorAll('.sora-nb-card')];
  const statuses = cards.map(c => c.dataset.status);
  const running = document.querySelectorAll('.widget-hprogress').length;
  const gallery = document.querySelectorAll('.sora-nb-gallery video').length;
  return cards.length >= 4 && running === 0 && gallery >= 2
    && statuses.every(s => s === 'completed' || s === 'failed');
}
"""
VIDEOS = """
() => [...document.querySelectorAll('.jp-OutputArea-output video, body > * video, video')]
  .filter((v, i, all) => all.indexOf(v) === i).map(v => {
  if (v.readyState < 2) { v.muted = true; v.play().catch(() => {}); }
  return {readyState: v.readyState, duration: v.duration, error: v.error ? v.error.code : null,
          src: v.getAttribute('src'), poster: v.getAttribute('poster')};
})
"""


def _write_notebook(root: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    # a kernelspec, or JupyterLab opens it with a kernel picker (notes/browser-testing.md)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = root / NOTEBOOK
    nbformat.write(nb, path)
    return path


def _menu(page: Any, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()


def _saved_outputs(path: Path) -> list[dict[str, Any]]:
    nb = json.loads(path.read_text("utf-8"))
    return [o for c in nb["cells"] for o in c.get("outputs", [])]


def _final_on_disk(path: Path) -> bool:
    try:
        outputs = _saved_outputs(path)
    except json.JSONDecodeError:  # JupyterLab writes in place: caught mid-save, look again
        return False
    texts = ["".join(o.get("data", {}).get("text/html", "")) for o in outputs]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json"
             in o.get("data", {})]
    return (not views and sum('class="sora-nb-card"' in t for t in texts) >= 3
            and any("sora-nb-gallery" in t and "<video" in t for t in texts))


def _every_view_final_and_playing(page: Any) -> list[dict[str, Any]]:
    """What both reopened forms of the notebook must show: the four cards final (three
    completed, the blocked one failed), the gallery's three tiles, no widget error, and
    every video loaded (waited for: the page loads them after it shows) and 4 s long.
    Returns the videos as ``VIDEOS`` describes them."""
    statuses = page.eval_on_selector_all(".sora-nb-card", "els => els.map(e => e.dataset"
                                         ".status)")
    assert sorted(statuses) == ["completed", "completed", "completed", "failed"], statuses
    assert page.locator(".sora-nb-gallery .sora-nb-tile").count() == 3
    assert "Error displaying widget" not in page.inner_text("body")
    page.wait_for_function(
        f"() => {{ const v = ({VIDEOS})(); return v.length >= 3 && "
        "v.every(x => x.readyState >= 2); }", timeout=30_000, polling=250,
    )
    videos: list[dict[str, Any]] = page.evaluate(VIDEOS)
    for video in videos:
        assert video["error"] is None and abs(video["duration"] - 4) <= 0.1, video
    return videos


@pytest.fixture(scope="module")
def saved(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Run the notebook in JupyterLab until every view is final, save it, stop the server
    (and with it the kernel). Yields (notebook folder, base dir of private config)."""
    base = tmp_path_factory.mktemp("outputs-last")
    root = base / "notebooks"
    root.mkdir()
    path = _write_notebook(root)
    env = lab_env(base, SORA_NB_LOCAL_JOB_SECONDS="2")
    lab: Lab = start_lab(root, base, env)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(lab.url(NOTEBOOK), wait_until="domcontentloaded")
        page.wait_for_function(KERNEL_READY, timeout=90_000)
        _menu(page, "Run", "Run All Cells")
        page.wait_for_function(f"() => ({KERNEL_READY})() && ({ALL_FINAL})()",
                               timeout=180_000, polling=500)
        assert "Error displaying widget" not in page.content()
        _menu(page, "File", "Save Notebook")
        deadline = time.monotonic() + 60
        while not _final_on_disk(path):  # the save lands on disk a moment later
            assert time.monotonic() < deadline, "the saved notebook never showed final cards"
            page.wait_for_timeout(250)
    except Exception:
        page.screenshot(path=str(base / "run-failure.png"))
        print(lab.log.read_text("utf-8")[-3000:])
        raise
    finally:
        context.close()
        lab.stop()
    yield root, base


def test_reopened_without_a_kernel_every_view_is_final(
    browser: Any, saved: tuple[Path, Path], shots: Path
) -> None:
    root, base = saved
    # A server that offers no kernel at all: the notebook opens with "No Kernel".
    lab = start_lab(root, base, lab_env(base), extra_args=[
        "--KernelSpecManager.ensure_native_kernel=False",
        "--KernelSpecManager.allowed_kernelspecs=none",
    ])
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(lab.url(NOTEBOOK), wait_until="domcontentloaded")
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=60_000)
        print("kernel dialog:", dialog.inner_text())
        no_kernel = dialog.locator("button", has_text=re.compile("No Kernel"))
        if no_kernel.count():
            no_kernel.first.click()
        else:  # JupyterLab 4: a select with a "No Kernel" option, then "Select"
            dialog.locator("select").select_option(label="No Kernel")
            dialog.locator("button", has_text=re.compile("^Select$")).click()
        page.locator(".sora-nb-card").first.wait_for(timeout=60_000)
        _every_view_final_and_playing(page)
        assert page.locator(".sora-nb-card[data-status=failed] .sora-nb-error").inner_text(
        ).startswith("moderation_blocked")
        assert page.locator(".sora-nb-compare .sora-nb-card").count() == 2
        assert "Loading widget" not in page.inner_text("body")
        page.locator(".jp-Toast-close").evaluate_all("els => els.forEach(e => e.click())")
        page.locator(".sora-nb-card").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "reopened-no-kernel.png"))
    except Exception:
        page.screenshot(path=str(shots / "reopened-failure.png"))
        print(lab.log.read_text("utf-8")[-3000:])
        raise
    finally:
        context.close()
        lab.stop()


def test_nbconvert_html_offline_shows_the_cards_and_plays(
    browser: Any, saved: tuple[Path, Path], shots: Path
) -> None:
    root, _ = saved
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(root / NOTEBOOK)],
        cwd=root, capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    page_path = root / "views.html"
    context = offline_context(browser)  # no network: the page must not need a CDN
    tab = context.new_page()
    try:
        tab.goto(page_path.as_uri(), wait_until="load")
        for video in _every_view_final_and_playing(tab):
            assert not re.match(r"^(?:/|[a-z]+:)", video["src"]), video  # relative
        tab.locator(".sora-nb-card").first.scroll_into_view_if_needed()
        tab.screenshot(path=str(shots / "nbconvert-offline.png"))
    finally:
        context.close()
