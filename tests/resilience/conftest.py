"""The reliability suites' shared ledger: each suite records what it tried, how often and
what held; when every suite ran and passed, the session's end renders RELIABILITY.md at the
repository root from it (see ``_report.py``).

It is written only by a run that also ran the embedded server's hostile-input tests (their
counts, recorded through tests/reliability.py, are a section of it), as ``make test`` does.
The file is rewritten only when its stable part changed (what is tried, how often, what
held), so a clean ``make test`` leaves the git tree clean; counts that vary from run to run
(faults that struck, retries) are shown as those of the run that last wrote the file.
``SORA_NB_RELIABILITY_REFRESH=1`` rewrites it anyway.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ._report import SUITES, Ledger, server_checks, write_report

ROOT = Path(__file__).resolve().parents[2]
LEDGER = Ledger()
_failed: set[str] = set()
#: Records of the server's hostile-input tests older than this session are not reported.
SESSION_START = time.time()


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return LEDGER


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and "tests/resilience/" in report.nodeid.replace("\\", "/"):
        _failed.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    complete = all(LEDGER.complete(suite) for suite in SUITES)
    if _failed or not complete or exitstatus != 0:
        return  # only a run where everything passed may say what held
    force = os.environ.get("SORA_NB_RELIABILITY_REFRESH") == "1"
    checks = []
    recorder = sys.modules.get("reliability")  # tests/reliability.py, if a test used it
    if recorder is not None:
        checks = server_checks(recorder.log_path(), SESSION_START)
    if not checks:
        return  # a partial run (the server's tests did not run): keep the full report
    written = write_report(LEDGER, ROOT / "RELIABILITY.md", checks=checks, force=force)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        state = "rewritten" if written else "unchanged (stable part identical)"
        reporter.write_line(f"RELIABILITY.md {state}")
