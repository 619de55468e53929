"""Run every benchmark (``make bench``): render speed, server latency, merge speed."""

from __future__ import annotations

import importlib
import sys

MODULES = ("bench_render", "bench_server", "bench_merge", "bench_download", "bench_journal")


def main() -> int:
    names = sys.argv[1:] or list(MODULES)
    for name in names:
        print(f"== {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
