"""The quickstart in a real JupyterLab, in Debian's Chromium: Run All Cells, then watch the
live card move, turn green and static, the video play, and a blocked prompt's card turn red."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import KERNEL_READY, NOTEBOOKS, Lab

pytestmark = pytest.mark.e2e

NOTEBOOK = "01_quickstart.ipynb"
JOB_SECONDS = "4"  # the embedded backend's simulated render time: long enough to watch
REQUESTED_SECONDS = 4  # what the quickstart asks for (checked against its source below)

# Records every value the first progress bar shows, from the page itself: a
# MutationObserver sees each style change the widget manager makes, so no value between
# two samples can be missed and the test needs no sleep.
WATCH_BARS = """
() => {
  window.__bars = [];
  const record = () => {
    const bars = [...document.querySelectorAll('.widget-hprogress .progress-bar')];
    window.__bars.push(bars.map(b => ({width: b.style.width, cls: b.className})));
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['style', 'class'],
  });
}
"""
# Every <video> on the page: muted and asked to play (as a user's click would), so that it
# loads past its metadata.
VIDEOS = """
() => [...document.querySelectorAll('video')].map(v => {
  if (v.readyState < 2) { v.muted = true; v.play().catch(() => {}); }
  return {readyState: v.readyState, duration: v.duration, src: v.currentSrc.slice(0, 60),
          error: v.error ? v.error.code : null};
})
"""


def _width(style: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)%\s*", style or "")
    return round(float(m.group(1))) if m else None


def test_quickstart_live_card_in_jupyterlab(browser: Any, lab_factory: Any, shots: Path) -> None:
    source = "\n".join(
        c.source for c in nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4).cells
        if c.cell_type == "code"
    )
    assert f"seconds={REQUESTED_SECONDS}" in source
    assert "MODERATION_MARKER" in source

    lab: Lab = lab_factory(SORA_NB_LOCAL_JOB_SECONDS=JOB_SECONDS)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(lab.url(NOTEBOOK), wait_until="domcontentloaded")
        # "Kernel status: Idle" can show before the session has its kernel (Run All then
        # opens a kernel picker): wait until the notebook's kernel is connected and idle.
        page.wait_for_function(KERNEL_READY, timeout=90_000)
        page.evaluate(WATCH_BARS)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

        # The live card appears, moves, and turns green.
        page.wait_for_selector(".widget-hprogress .progress-bar", timeout=60_000)
        page.wait_for_function(
            "() => { const b = document.querySelector('.widget-hprogress .progress-bar');"
            " return b && parseFloat(b.style.width) >= 40 && "
            "!b.className.includes('success'); }",
            timeout=60_000,
        )
        running_card = page.locator(".widget-vbox", has=page.locator(".widget-hprogress")).first
        running_card.scroll_into_view_if_needed()
        running_card.screenshot(path=str(shots / "quickstart-running-card.png"))
        # Done on the server: the bar fills green while the media are fetched, then the
        # card replaces itself by its static form (which a saved notebook keeps).
        page.wait_for_function(
            "() => { const b = document.querySelector('.widget-hprogress .progress-bar');"
            " return (b && b.className.includes('progress-bar-success'))"
            " || !!document.querySelector('.sora-nb-card[data-status=completed]'); }",
            timeout=60_000,
        )
        history: list[list[dict[str, str]]] = page.evaluate("() => window.__bars")
        running = {
            w for sample in history if sample
            if "success" not in sample[0]["cls"] and (w := _width(sample[0]["width"])) is not None
        }
        assert len(running) >= 3, f"the bar showed only {sorted(running)} while running"
        print(f"live bar values while running: {sorted(running)}")
        assert any("progress-bar-info" in s[0]["cls"] for s in history if s), (
            "the bar never showed the in-progress (info) style"
        )
        green_card = page.locator('.sora-nb-card[data-status="completed"]').first
        green_card.wait_for(timeout=60_000)

        # The blocked prompt's card turns red, the server's reason first.
        red_card = page.locator('.sora-nb-card[data-status="failed"]').first
        error = red_card.locator(".sora-nb-error")
        error.wait_for(timeout=60_000)
        assert "moderation_blocked" in error.text_content() or ""
        assert "blocked by our moderation system" in error.text_content() or ""

        # Every video on the page loads and lasts what was asked for: job.show()'s (the
        # card gave it its player and keeps the poster).
        page.wait_for_function(
            f"() => ({KERNEL_READY})() && document.querySelectorAll('video').length >= 1",
            timeout=60_000,
        )
        page.wait_for_function(
            f"() => ({VIDEOS})().every(v => v.readyState >= 2)", timeout=30_000, polling=250
        )
        videos = page.evaluate(VIDEOS)
        assert len(videos) >= 1, videos
        for video in videos:
            assert video["error"] is None, videos
            assert abs(video["duration"] - REQUESTED_SECONDS) <= 0.1, videos
        assert "played by job.show() below" in green_card.inner_text()
        assert page.locator(".widget-hprogress").count() == 0  # nothing live is left

        # No cell raised.
        tracebacks = page.locator(".jp-OutputArea-output", has_text="Traceback")
        assert tracebacks.count() == 0, tracebacks.first.inner_text()

        page.locator(".jp-Toast-close").evaluate_all("els => els.forEach(e => e.click())")
        red_card.scroll_into_view_if_needed()
        red_card.screenshot(path=str(shots / "quickstart-failed-card.png"))
        green_card.scroll_into_view_if_needed()
        green_card.screenshot(path=str(shots / "quickstart-card.png"))
        page.screenshot(path=str(shots / "quickstart-done.png"))
    except Exception:
        page.screenshot(path=str(shots / "quickstart-failure.png"))
        print(json.dumps(page.evaluate("() => window.__bars || []")[-5:], indent=1))
        print(lab.log.read_text("utf-8")[-3000:])
        raise
    finally:
        context.close()
        lab.stop()
    assert lab.proc.returncode is not None

