"""The reliability suites' shared ledger: each suite records what it tried, how often and
what held; when every suite ran and passed, the session's end renders RELIABILITY.md at the
repository root from it (see ``_report.py``).

The file is rewritten only when its stable part changed (what is tried, how often, what
held), so a clean ``make test`` leaves the git tree clean; counts that vary from run to run
(faults that struck, retries) are shown as those of the run that last wrote the file.
``SORA_NB_RELIABILITY_REFRESH=1`` rewrites it anyway.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ._report import SUITES, Ledger, write_report

ROOT = Path(__file__).resolve().parents[2]
LEDGER = Ledger()
_failed: set[str] = set()


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return LEDGER


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and "tests/reliability/" in report.nodeid.replace("\\", "/"):
        _failed.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    complete = all(LEDGER.complete(suite) for suite in SUITES)
    if _failed or not complete:
        return
    force = os.environ.get("SORA_NB_RELIABILITY_REFRESH") == "1"
    written = write_report(LEDGER, ROOT / "RELIABILITY.md", force=force)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        state = "rewritten" if written else "unchanged (stable part identical)"
        reporter.write_line(f"RELIABILITY.md {state}")
