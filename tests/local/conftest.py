"""Fixtures of the local server tests: one fast server (job_seconds=0) and an SDK client per
module, a finished clip to download and derive from, and small media helpers."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from openai.types import Video
from PIL import Image

from sora_nb.local import LocalServer, start


def sdk(server: LocalServer, **kwargs: object) -> openai.OpenAI:
    """A real SDK client for ``server``; retries off unless a test asks for them."""
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(
        base_url=server.base_url, api_key=server.api_key, **kwargs  # type: ignore[arg-type]
    )


def png(size: str, color: tuple[int, int, int] = (200, 40, 40), fmt: str = "PNG") -> bytes:
    """An image of ``size`` ("WxH") encoded as ``fmt``."""
    width, height = (int(v) for v in size.split("x"))
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(name="sdk")
def sdk_fixture() -> Callable[..., openai.OpenAI]:
    return sdk


@pytest.fixture(name="png")
def png_fixture() -> Callable[..., bytes]:
    return png


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data_dir of every module's server: a module reloads the jobs of the ones before
    it and reuses their renders (the same clip is rendered once per session, not per module)."""
    return tmp_path_factory.mktemp("local-server")


@pytest.fixture(scope="module")
def server(shared_data_dir: Path) -> Iterator[LocalServer]:
    """One server per module; jobs finish as soon as their render does."""
    with start(job_seconds=0, poll_after_ms=20, data_dir=shared_data_dir) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: LocalServer) -> openai.OpenAI:
    return sdk(server)


@pytest.fixture()
def idle_server() -> Iterator[LocalServer]:
    """A server of the test's own whose jobs take a minute. Tests give its jobs prompts with
    MODERATION_MARKER: such a job runs like any other until it fails at 30 % of its time, and
    is never rendered, so it costs no CPU."""
    with start(job_seconds=60) as srv:
        yield srv


@pytest.fixture(scope="module")
def clip(client: openai.OpenAI) -> Video:
    """A finished default clip (720x1280, 4 s) that tests download and derive from."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create_and_poll(prompt="A red kite over a green hill")
    assert video.status == "completed", video.error
    return video
