"""The committed notebooks are clean: a python3 kernelspec, outputs of one top-to-bottom
run, small (no widget state, no embedded media), no errors, no key; the sanitize file
parses. (nbval, in its own pytest step, re-runs them and compares the outputs.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
SANITIZE = Path(__file__).with_name("sanitize.cfg")
EXPECTED = [
    "01_quickstart.ipynb",
    "02_prompt_iteration.ipynb",
    "03_audio.ipynb",
    "04_teaching_demo.ipynb",
    "05_functional_api.ipynb",
    "06_real_endpoint.ipynb",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MAX_FILE_BYTES = 64 * 1024
MAX_OUTPUT_BYTES = 32 * 1024


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def test_the_six_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_small(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata, "widget state embeds media: refresh the notebook"
    assert path.stat().st_size <= MAX_FILE_BYTES
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    # Stored outputs come from one top-to-bottom run (scripts/refresh_notebooks.py).
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{cell.id}: {output.get('evalue')}"
            assert WIDGET_VIEW not in output.get("data", {}), cell.id
            text = json.dumps(output)
            assert len(text) <= MAX_OUTPUT_BYTES, f"{cell.id}: {len(text)} bytes"
            assert not re.search(r"data:video/|AAAAIGZ0eXBpc29t|AAAAHGZ0eXBpc29t", text)
    raw = path.read_text("utf-8")
    assert not re.search(r"sk-[A-Za-z0-9_-]{16,}|sora-local-[A-Za-z0-9_-]{16,}", raw)


def test_quickstart_shows_a_failing_prompt_without_failing() -> None:
    nb = _read(REPO / "notebooks" / "01_quickstart.ipynb")
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "snb.local.MODERATION_MARKER" in source
    assert "except snb.SoraJobFailed" in source
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "moderation_blocked" in printed


def test_real_endpoint_notebook_skips_without_a_key_and_never_prints_one() -> None:
    nb = _read(REPO / "notebooks" / "06_real_endpoint.ipynb")
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'os.environ.get("OPENAI_API_KEY")' in source
    assert not re.search(r"print\([^)]*(api_key|OPENAI_API_KEY\"\])", source)
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert printed.count("skipped: no OPENAI_API_KEY") == 1  # the one cell that needs a key
    # and the cells against the embedded backend's dialects ran: their answers are stored
    assert "does not support remix" in printed and "has no list of jobs" in printed


def test_sanitize_file_parses_and_every_pattern_compiles() -> None:
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(SANITIZE.read_text("utf-8"))
    regexes = re.findall(r"^regex: ", SANITIZE.read_text("utf-8"), flags=re.MULTILINE)
    assert len(patterns) == len(regexes) >= 10
    for regex, _ in patterns:
        re.compile(regex)


def test_sanitize_maps_a_running_card_and_keeps_a_finished_one() -> None:
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(SANITIZE.read_text("utf-8"))

    def sanitize(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    queued = "<SoraJob video_" + "ab" * 24 + " queued 0%>"
    running = "<SoraJob video_" + "cd" * 24 + " in_progress 42%>"
    assert sanitize(queued) == sanitize(running) == "<SoraJob VIDEO_ID RUNNING>"
    done = "<SoraJob video_" + "ef" * 24 + " completed 100%>"
    failed = "<SoraJob video_" + "ef" * 24 + " failed 30%>"
    assert sanitize(done) != sanitize(failed)
    assert sanitize("elapsed 4.2s · ETA 1m 07s") == sanitize("elapsed 12s") == "elapsed T"
    assert sanitize("http://127.0.0.1:41234/v1") == "http://127.0.0.1:PORT/v1"
    card = '<progress></progress><img class="sora-nb-thumb" src="data:image/webp;base64,UklG" '
    assert sanitize(card + 'alt="thumbnail of x">') == "<progress></progress>"
