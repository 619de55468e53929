"""Re-run notebooks/*.ipynb on the embedded backend and store their outputs, cleaned.

    .venv/bin/python scripts/refresh_notebooks.py [NAME.ipynb ...]

Run it after changing a notebook or an output format: nbval (`make test`) compares each
notebook's fresh outputs with the stored ones. Every notebook runs in a temporary copy
(so media lands there, not in notebooks/) with a private cache and no API key. The stored
outputs keep text/plain and text/html only: the widget views (their model ids are random
and their state would embed the MP4 bytes) and the widget state are dropped, so committed
notebooks stay small and open cleanly in JupyterLab, GitHub or nbviewer.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(REPO))

from demo import execute_notebook  # noqa: E402  # scripts/demo.py, beside this file

from sora_nb._fs import atomic_write_text  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: A stored output larger than this means media got embedded: refuse to commit it.
MAX_OUTPUT_BYTES = 64 * 1024
JOB_SECONDS = "1"
NBVAL_IGNORE = "nbval-ignore-output"
SELF_UPDATING = ('class="sora-nb-card"', 'class="sora-nb-compare"', 'class="sora-nb-gallery"')
#: Inline images (the gallery's HTML fallback embeds cached thumbnails) are replaced by a
#: transparent pixel: nbval's sanitize file maps every inline image to one placeholder.
INLINE_IMAGE = re.compile(r"data:image/[a-z+.-]+;base64,[A-Za-z0-9+/=]{200,}")
PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def clean(nb: Any) -> Any:
    """Strip what must not be committed: widget views and state, timings, huge outputs."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data")
            if data is not None:
                data.pop(WIDGET_VIEW, None)
                if isinstance(data.get("text/html"), str):
                    data["text/html"] = INLINE_IMAGE.sub(PIXEL, data["text/html"])
                output.get("metadata", {}).pop(WIDGET_VIEW, None)
                if not data:
                    continue
            size = len(str(output))
            if size > MAX_OUTPUT_BYTES:
                raise SystemExit(f"an output of {size} bytes in cell {cell.get('id')}: "
                                 "embedded media? keep notebook outputs small")
            kept.append(output)
        cell.outputs = kept
        # A job card, compare grid or gallery replaces itself (update_display) once final:
        # stored is that final form, while nbval only sees the first display of a cell and
        # never its updates. Such cells still run under nbval; their outputs are checked
        # by the browser tests (tests/e2e/test_outputs_last.py) instead.
        tags = [t for t in cell.metadata.get("tags", []) if t != NBVAL_IGNORE]
        if any(marker in str(o.get("data", {}).get("text/html", "")) for o in kept
               for marker in SELF_UPDATING):
            tags.append(NBVAL_IGNORE)
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    return nb


def refresh(path: Path) -> float:
    import nbformat

    original = nbformat.read(path, as_version=4)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sora_nb-refresh-") as tmp:
        work = Path(tmp)
        saved = dict(os.environ)
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND"):
            os.environ.pop(name, None)
        # The cache lives outside the kernel's folder, as in nbval and for a user: media
        # is then linked under ./sora_nb_media/ the same way every time.
        os.environ["SORA_NB_CACHE_DIR"] = str(work / "cache")
        (work / "nb").mkdir()
        os.environ["SORA_NB_LOCAL_JOB_SECONDS"] = JOB_SECONDS
        try:
            copy = work / "nb" / path.name
            shutil.copyfile(path, copy)
            nb = execute_notebook(copy, copy.parent, stream=sys.stderr)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    nb.metadata["kernelspec"] = original.metadata["kernelspec"]
    atomic_write_text(path, nbformat.writes(clean(nb)) + "\n")
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    names = argv or sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name in names:
        path = NOTEBOOKS / Path(name).name
        print(f"== {path.name}", file=sys.stderr)
        seconds = refresh(path)
        print(f"== {path.name}: {seconds:.1f} s, {path.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
