"""``make bench``: every row (sora_nb, baseline, ratio, target, verdict), written to
``benchmarks/results/latest.md`` after a full run; exits 1 when a target is MISSED.
``python -m benchmarks requests inflight`` runs only those (and writes no results file)."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable

from benchmarks._harness import Row, markdown, write_results

#: name -> (module, function returning rows), in the order of issue 13.
ROWS: dict[str, tuple[str, str]] = {
    "requests": ("bench_requests", "main"),
    "inflight": ("bench_inflight", "main"),
    "download": ("bench_download", "main"),
    "comms": ("bench_comms", "main"),
    "server": ("bench_server", "main"),
    "render": ("bench_render", "main"),
    "imports": ("bench_imports", "main"),
    "merge": ("bench_merge", "rows"),
    "journal": ("bench_journal", "main"),
}


def main(argv: list[str]) -> int:
    names = argv or list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(ROWS)}", file=sys.stderr)
        return 2
    began = time.monotonic()
    # the 1-minute load average before anything ran: above 1 on 2 cores, something else
    # was already using them (SORA_NB_BENCH_SHARED=0/1 overrides the judgement)
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    for name in names:
        module, function = ROWS[name]
        print(f"== {name}", flush=True)
        started = time.monotonic()
        run: Callable[[], list[Row]] = getattr(
            importlib.import_module(f"benchmarks.{module}"), function)
        try:
            got = run()
        except Exception as exc:  # one broken row must not hide the others: it fails
            got = [Row(f"{name} benchmark", f"crashed: {type(exc).__name__}: {exc}"[:300],
                       "-", None, "runs", False)]
        for row in got:
            print(row.line(), flush=True)
            rows.append(row)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print()
    print(markdown(rows))
    if not argv:
        told = os.environ.get("SORA_NB_BENCH_SHARED")
        shared = told != "0" if told is not None else load_before > 1.0
        print(f"\nwritten to {write_results(rows, time.monotonic() - began, shared)}")
    missed = [r.what for r in rows if r.ok is False]
    if missed:
        print(f"\n{len(missed)} target(s) MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
