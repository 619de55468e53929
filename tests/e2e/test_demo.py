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

from .conftest import NOTEBOOKS, REPO, offline_context

pytestmark = pytest.mark.e2e

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
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
    # Plain words: the blocked job reads as failed with its code; no widget jargon.
    assert "failed (moderation_blocked)" in done.stderr, done.stderr
    assert "widget" not in done.stderr.lower()
    # The demo's own cache is private and gone; the user's was never touched.
    assert not (tmp_path / "ignored-cache").exists()

    # Every job card in the saved notebook is in its final state, as plain HTML (a card
    # turns static once its job is final: no widget view left to fail without a kernel).
    nb = json.loads(ipynb.read_text("utf-8"))
    cards = [o["data"] for c in nb["cells"] if c["cell_type"] == "code"
             for o in c.get("outputs", []) if 'class="sora-nb-card"' in
             "".join(o.get("data", {}).get("text/html", ""))]
    assert cards and all(WIDGET_VIEW not in d for d in cards)
    pages = ["".join(d["text/html"]) for d in cards]
    # the quickstart calls job.show(): its player is the job's one, the card keeps the
    # poster (one player per job in view)
    assert any('data-status="completed"' in p and 'href="sora_nb_media/' in p
               and "played by job.show() below" in p for p in pages)
    assert any('data-status="failed"' in p and "moderation_blocked" in p for p in pages)
    assert not any('data-status="queued"' in p or 'data-status="in_progress"' in p
                   for p in pages)

    # Opened from out/, the page finds the media job.show() linked under sora_nb_media/.
    # Nothing but file: URLs is served: the page must play offline.
    context = offline_context(browser)
    tab = context.new_page()
    try:
        tab.goto(page.as_uri(), wait_until="load")
        # the cards are there, in their final state, with no network at all
        assert tab.locator('.sora-nb-card[data-status="completed"]').count() >= 1
        assert tab.locator('.sora-nb-card[data-status="failed"] .sora-nb-error').count() == 1
        assert "Error displaying widget" not in tab.content()
        tab.wait_for_function(
            f"() => {{ const v = ({VIDEOS})(); return v.length > 0 && "
            "v.every(x => x.readyState >= 2); }",
            timeout=30_000, polling=250,
        )
        videos = tab.evaluate(VIDEOS)
        # the card's poster loads too (its player went to job.show() below it)
        assert tab.evaluate("() => [...document.querySelectorAll('.sora-nb-card img')]"
                            ".map(i => i.complete && i.naturalWidth > 0)") == [True]
        for video in videos:
            assert video["error"] is None, videos
            assert video["src"].startswith("sora_nb_media/"), videos
            assert abs(video["duration"] - 4) <= 0.1, videos
        tab.locator("video").first.scroll_into_view_if_needed()
        tab.screenshot(path=str(shots / "demo-html.png"))
    finally:
        context.close()

