"""``make demo``'s pipeline end to end: ``python scripts/demo.py`` executes the quickstart
headless, and the HTML it writes plays the video when opened from its folder in Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import NOTEBOOKS, REPO

pytestmark = pytest.mark.e2e

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
VIDEOS = """
() => [...document.querySelectorAll('video')].map(v => {
  if (v.readyState < 2) { v.muted = true; v.play().catch(() => {}); }
  return {readyState: v.readyState, duration: v.duration, src: v.getAttribute('src'),
          error: v.error ? v.error.code : null};
})
"""


def test_demo_writes_a_notebook_and_a_page_that_plays(
    browser: Any, tmp_path: Path, shots: Path
) -> None:
    out = tmp_path / "out"
    env = dict(os.environ, SORA_NB_CACHE_DIR=str(tmp_path / "ignored-cache"))
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--out", str(out), "--job-seconds", "1",
         "--notebook", str(NOTEBOOKS / "01_quickstart.ipynb")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ipynb, page = out / "quickstart.ipynb", out / "quickstart.html"
    # The paths, on stdout; a per-cell progress line on stderr.
    printed = done.stdout.splitlines()
    assert str(ipynb) in printed and str(page) in printed
    assert "[ 3/" in done.stderr and "100%" in done.stderr
    # The demo's own cache is private and gone; the user's was never touched.
    assert not (tmp_path / "ignored-cache").exists()

    # Widget state is stored, and current: the card ended green with the video in it
    # (its updates come from a background thread, after the cell that showed it).
    nb = json.loads(ipynb.read_text("utf-8"))
    models = nb["metadata"]["widgets"][WIDGET_STATE]["state"].values()
    bars = [m["state"] for m in models if m["model_name"] == "IntProgressModel"]
    # (the order of models in the stored state is not the order of the cells)
    assert sorted((b["value"], b["bar_style"]) for b in bars) == [(30, "danger"),
                                                                  (100, "success")]
    assert any(m["model_name"] == "VideoModel" and m.get("buffers") for m in models)
    html = page.read_text("utf-8")
    assert WIDGET_STATE in html

    # Opened from out/, the page finds the media job.show() linked under sora_nb_media/.
    # Nothing but file: URLs is served: the page must play offline.
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        "file:") else route.abort())
    tab = context.new_page()
    try:
        tab.goto(page.as_uri(), wait_until="load")
        tab.wait_for_function(
            f"() => {{ const v = ({VIDEOS})(); return v.length > 0 && "
            "v.every(x => x.readyState >= 2); }",
            timeout=30_000, polling=250,
        )
        videos = tab.evaluate(VIDEOS)
        for video in videos:
            assert video["error"] is None, videos
            assert video["src"].startswith("sora_nb_media/"), videos
            assert abs(video["duration"] - 4) <= 0.1, videos
        tab.locator("video").first.scroll_into_view_if_needed()
        tab.screenshot(path=str(shots / "demo-html.png"))
    finally:
        context.close()

