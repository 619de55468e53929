"""A real LiteLLM proxy (1.110.2, see requirements-gateway.txt) in front of the embedded
backend, for the whole session: ``litellm_proxy`` gives its base_url and master key.

The proxy runs without a database (``LITELLM_LOCAL_MODEL_COST_MAP=True``, no DATABASE_URL),
on 127.0.0.1 and a free port, as a subprocess that is always stopped. Its model list:

- ``sora-2``: the embedded backend (jobs take ``UPSTREAM_JOB_SECONDS``);
- ``sora-2-busy``: a second embedded backend that answers every request 429 with
  ``retry-after``, to see what the proxy does with rate limits;
- ``sora-2-second``: a second deployment of the same ``openai/sora-2``, to see where the
  proxy sends the jobs of a model that has two.

Beside it runs the embedded backend's own ``gateway`` dialect, which test_gateway_dialect
compares with the proxy.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from sora_nb.local import FaultConfig, LocalServer, start

#: The pinned proxy version; 1.107.x must never be installed (a compromised release).
LITELLM_VERSION = "1.110.2"
MASTER_KEY = "sk-sora-nb-gateway-tests"
UPSTREAM_JOB_SECONDS = 2.0
#: The clip the tests create through the proxy; rendered upstream while the proxy boots.
CLIP = {"model": "sora-2", "prompt": "A red kite", "seconds": "4", "size": "720x1280"}
#: Upper bound on the proxy's start-up: about 8 s on an idle machine, over 90 s at a load
#: average of 13 on 2 cores.
STARTUP_TIMEOUT = 180.0


@dataclass(frozen=True)
class GatewayProxy:
    """A running LiteLLM proxy: send ``Authorization: Bearer <master_key>`` to ``base_url``
    (".../v1", as for ``openai.OpenAI``). ``upstream`` is the embedded backend behind model
    ``sora-2``; ``busy`` the one behind ``sora-2-busy``; ``second`` the one behind
    ``sora-2-second``; ``log`` the proxy's output;
    ``dialect`` an embedded backend speaking the ``gateway`` dialect (not behind the proxy)."""

    base_url: str
    master_key: str
    upstream: LocalServer
    busy: LocalServer
    second: LocalServer
    dialect: LocalServer
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.master_key}"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(upstream: LocalServer, busy: LocalServer, second: LocalServer) -> str:
    def model(name: str, server: LocalServer) -> str:
        return (f"  - model_name: {name}\n"
                f"    litellm_params:\n"
                f"      model: openai/sora-2\n"
                f"      api_base: {server.base_url}\n"
                f"      api_key: {server.api_key}\n")

    return ("model_list:\n" + model("sora-2", upstream) + model("sora-2-busy", busy)
            + model("sora-2-second", second)
            + f"general_settings:\n  master_key: {MASTER_KEY}\n")


def _executable() -> Path:
    try:
        from importlib.metadata import version

        installed = version("litellm")
    except Exception:  # not installed: the module is skipped with the way to install it
        installed = None
    if installed != LITELLM_VERSION:
        pytest.skip(f"needs litellm=={LITELLM_VERSION} and the proxy's requirements (found "
                    f"{installed}); install them with `make .venv/.installed-stamp` or "
                    "`pip install -r requirements-gateway.txt`")
    return Path(sys.executable).with_name("litellm")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def litellm_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProxy]:
    executable = _executable()
    folder = tmp_path_factory.mktemp("litellm")
    busy_faults = FaultConfig(rate_limit_rate=1.0, retry_after=0.1, seed=1)
    with start(job_seconds=UPSTREAM_JOB_SECONDS, poll_after_ms=100) as upstream, \
            start(job_seconds=UPSTREAM_JOB_SECONDS, faults=busy_faults) as busy, \
            start(job_seconds=UPSTREAM_JOB_SECONDS) as second, \
            start(job_seconds=UPSTREAM_JOB_SECONDS, dialect="gateway") as dialect:
        config = folder / "config.yaml"
        config.write_text(_config(upstream, busy, second), "utf-8")
        port = _free_port()
        log = folder / "proxy.log"
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        env.pop("DATABASE_URL", None)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(executable), "--config", str(config), "--host", "127.0.0.1",
                 "--port", str(port)],
                cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # the same spec straight to the upstream: its render (shared by spec) runs while
            # the proxy starts, so the clip made through the proxy finishes sooner
            for server in (upstream, dialect):
                warm = httpx2.post(f"{server.base_url}/videos", json=CLIP,
                                   headers={"Authorization": f"Bearer {server.api_key}"})
                assert warm.status_code == 200, warm.text
            _wait_ready(proc, port, log)
            yield GatewayProxy(f"http://127.0.0.1:{port}/v1", MASTER_KEY, upstream, busy,
                               second, dialect, log)
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    url = f"http://127.0.0.1:{port}/health/liveliness"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text("utf-8", "replace")[-2000:]
            pytest.fail(f"the LiteLLM proxy exited with code {proc.returncode}:\n{tail}")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    tail = log.read_text("utf-8", "replace")[-2000:]
    pytest.fail(f"the LiteLLM proxy was not ready within {STARTUP_TIMEOUT:g} s:\n{tail}")
