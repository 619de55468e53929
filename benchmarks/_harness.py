"""The benchmark harness: a ``Row`` per figure (sora_nb, baseline, ratio, target, verdict),
the machine description, child processes that report JSON, and ``results/latest.md``."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "Row", "child", "machine", "markdown", "percentile", "proc_status",
           "run_child", "write_results"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.md"


@dataclass(frozen=True)
class Row:
    """One line of the table. ``ok`` is None for a figure shown for information only
    (no target); a row with ``ok=False`` makes ``make bench`` fail."""

    what: str
    ours: str
    baseline: str
    ratio: float | None
    target: str
    ok: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "MISSED")

    def line(self) -> str:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        text = (f"{self.verdict:<6} {self.what}: sora_nb {self.ours} | baseline {self.baseline}"
                f" | ratio {ratio or '-'} | target {self.target}")
        return text + (f"  ({self.note})" if self.note else "")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def proc_status(field: str) -> int:
    """A ``/proc/self/status`` field as an int (kB for memory fields; Linux only)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def machine() -> dict[str, str]:
    """Cores, RAM, CPU model, load, and the versions the figures depend on."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name in ("openai", "aiohttp", "httpx", "httpx2", "ipykernel", "ipywidgets"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": str(os.cpu_count()),
        "ram": f"{ram:.1f} GiB",
        "cpu": cpu,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        **versions,
    }


def child(module: str, config: dict[str, Any], *, timeout: float = 600,
          env: dict[str, str] | None = None, session: bool = False) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> --child`` in a fresh process with ``config`` as JSON on
    stdin; return the JSON object on its last stdout line. A fresh process gives each
    client its own threads, CPU clock and peak RSS; ``session`` also gives it a session of
    its own, which under Linux autogroup scheduling is a scheduling group of its own, so
    its CPU does not come out of this process's share (a load generator standing for
    other machines' clients)."""
    proc = run_child(module, config, env=env, session=session)
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.{module} failed ({proc.returncode}):\n{err[-3000:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def run_child(module: str, config: dict[str, Any], *, env: dict[str, str] | None = None,
              session: bool = False) -> subprocess.Popen[str]:
    """Start ``benchmarks.<module>`` with ``config`` on stdin (already written and closed
    when this returns); the caller reads its stdout lines."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), full_env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.{module}", "--child"], cwd=ROOT, env=full_env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=session,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(config))
    proc.stdin.close()
    proc.stdin = None  # so that communicate() does not flush the closed pipe
    return proc


def read_config() -> dict[str, Any]:
    """In a child: the JSON config the harness wrote on stdin."""
    return dict(json.loads(sys.stdin.read()))


def emit(obj: dict[str, Any]) -> None:
    """In a child: one JSON line on stdout (the harness reads them as they come)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| what | sora_nb | baseline | ratio | target | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        what = r.what + (f" ({r.note})" if r.note else "")
        cells = (what, r.ours, r.baseline, ratio, r.target, r.verdict)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write_results(rows: Sequence[Row], seconds: float, shared: bool,
                  path: Path = RESULTS) -> Path:
    """Write the table with the date and the machine (temp file + rename)."""
    info = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    missed = sum(1 for r in rows if r.ok is False)
    head = [
        f"# `make bench` results, {now}",
        "",
        f"Machine: {info['cores']} cores, {info['ram']} RAM, {info['cpu']}; load average "
        f"at the end {info['load']}.",
        f"Versions: Python {info['python']}, openai {info['openai']}, aiohttp "
        f"{info['aiohttp']}, httpx {info['httpx']} (the SDK's transport: httpx2 "
        f"{info['httpx2']}), ipykernel {info['ipykernel']}, ipywidgets {info['ipywidgets']}.",
        f"Run time {seconds / 60:.1f} min; {len(rows)} rows, {missed} targets MISSED.",
    ]
    if shared:
        head.append("The run happened on a shared machine (other jobs were using the same "
                    "cores), so absolute times are noisy; every ratio is against a baseline "
                    "measured in the same run.")
    text = "\n".join(head) + "\n\n" + markdown(rows) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)
    return path
