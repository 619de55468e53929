"""Import time: ``import sora_nb`` against ``import openai`` (which sora_nb imports), each
in a fresh interpreter, alternating, median of 7. Only the import is timed."""

from __future__ import annotations

import subprocess
import sys

from benchmarks._harness import ROOT, Row, median

RUNS = 7
TARGET = 1.5


def _time(module: str) -> float:
    code = (f"import time; t = time.perf_counter(); import {module}; "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return float(out.stdout.strip())


def main() -> list[Row]:
    ours: list[float] = []
    sdk: list[float] = []
    for _ in range(RUNS):
        ours.append(_time("sora_nb"))
        sdk.append(_time("openai"))
    a, b = median(ours) * 1000, median(sdk) * 1000
    return [Row("import time", f"{a:.0f} ms", f"{b:.0f} ms (import openai)", a / b,
                f"<= {TARGET:g}x", a / b <= TARGET, note=f"fresh processes, median of {RUNS}")]


if __name__ == "__main__":
    for row in main():
        print(row.line())
