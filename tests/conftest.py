"""Shared fixtures: every test runs with its own sora_nb cache dir, and the core tests talk
to a real embedded backend over real HTTP through the real openai SDK."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before sora_nb is imported anywhere: a private cache dir for the whole run, and no real
# key or endpoint leaking in from the developer's environment.
os.environ["SORA_NB_CACHE_DIR"] = tempfile.mkdtemp(prefix="sora_nb-test-cache-")
for _name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND"):
    os.environ.pop(_name, None)

import sora_nb as snb  # noqa: E402
from sora_nb import _capabilities, _config  # noqa: E402
from sora_nb.local import LocalServer, start  # noqa: E402


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    """One backend for the session: jobs take about half a second."""
    with start(job_seconds=0.5, poll_after_ms=50) as srv:
        yield srv


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    """A fresh cache dir (journal + downloads) for one test."""
    path = tmp_path / "cache"
    snb.configure(cache_dir=path)
    return path


@pytest.fixture()
def local(server: LocalServer, cache: Path) -> Iterator[LocalServer]:
    """sora_nb configured to use the session's backend, with a fresh cache dir."""
    snb.configure(backend="local", base_url=server.base_url, api_key=server.api_key)
    yield server
    _config.reset_settings()


@pytest.fixture()
def fresh_server(cache: Path, request: pytest.FixtureRequest) -> Iterator[LocalServer]:
    """A backend of the test's own, configured from ``@pytest.mark.server(...)`` kwargs."""
    marker = request.node.get_closest_marker("server")
    kwargs = dict(marker.kwargs) if marker else {}
    kwargs.setdefault("job_seconds", 0.5)
    with start(**kwargs) as srv:
        snb.configure(backend="local", base_url=srv.base_url, api_key=srv.api_key)
        yield srv
        _config.reset_settings()
        # a later server may get this port: it must not inherit what this one lacked
        _capabilities.forget()
