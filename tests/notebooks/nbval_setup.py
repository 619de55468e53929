"""nbval glue, loaded with ``-p tests.notebooks.nbval_setup``: every notebook's kernel runs
on the embedded backend with a fresh private cache, and no key from the developer's shell.

    python -m pytest -p tests.notebooks.nbval_setup --nbval --nbval-current-env \\
        --nbval-sanitize-with tests/notebooks/sanitize.cfg notebooks

The notebooks know nothing of this: a kernel inherits its environment from pytest, and
this plugin only sets that environment before nbval starts each notebook's kernel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: The embedded backend's simulated render time for notebook runs: short, since nobody
#: watches these cards (the browser test watches one at a realistic pace).
JOB_SECONDS = "1"
_state: dict[str, Path | None] = {"base": None, "notebook": None}
_created_media: list[Path] = []


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("nbval", False) or config.getoption("nbval_lax", False))


def pytest_configure(config: pytest.Config) -> None:
    if not _active(config):
        return
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND"):
        os.environ.pop(name, None)
    os.environ["SORA_NB_LOCAL_JOB_SECONDS"] = JOB_SECONDS
    base = Path(tempfile.mkdtemp(prefix="sora_nb-nbval-"))
    _state["base"] = base
    # No user IPython profile (startup files, extensions) in the notebooks' kernels.
    os.environ["IPYTHONDIR"] = str(base / "ipython")
    os.environ["SORA_NB_CACHE_DIR"] = str(base / "cache-unused")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first cell of each notebook (when nbval starts its kernel): a fresh
    cache dir, so each notebook starts from an empty journal whatever ran before."""
    base = _state["base"]
    if base is None or item.path.suffix != ".ipynb" or item.path == _state["notebook"]:
        return
    _state["notebook"] = item.path
    os.environ["SORA_NB_CACHE_DIR"] = str(base / f"cache-{item.path.stem}")
    media = item.path.parent / "sora_nb_media"
    if not media.exists() and media not in _created_media:
        _created_media.append(media)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the private caches, and the ./sora_nb_media/ folders this run created
    beside the notebooks (job.show() links media there); leave any that existed."""
    base = _state["base"]
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)
    for media in _created_media:
        shutil.rmtree(media, ignore_errors=True)
