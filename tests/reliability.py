"""Counts for RELIABILITY.md: every hostile-input test records what it tried and how much
of it held, one JSON line per check, in ``out/reliability.jsonl`` (or the file named by
``SORA_NB_RELIABILITY_LOG``). Appends only; a report generator reads the latest line per check.

    from reliability import record
    record("server.malformed_bodies", tried=44, held=44, note="4xx in the envelope, no 500")
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

__all__ = ["log_path", "record"]


def log_path() -> Path:
    default = Path(__file__).resolve().parents[1] / "out" / "reliability.jsonl"
    return Path(os.environ.get("SORA_NB_RELIABILITY_LOG") or default)


def record(check: str, *, tried: int, held: int, note: str = "") -> None:
    """Append one line: ``{"check", "tried", "held", "note", "at"}`` (``at``: Unix time)."""
    line = json.dumps({"check": check, "tried": tried, "held": held, "note": note,
                       "at": round(time.time(), 3)}) + "\n"
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # one write on an O_APPEND descriptor: lines from parallel test processes never interleave
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
