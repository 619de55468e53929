"""Browser-test glue: Debian's Chromium through Playwright, and a JupyterLab server of the
test's own (loopback, random port, token, private config and cache), stopped by its pid."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SHOTS = REPO / "out" / "e2e"
# Flags seen working on this machine kind (shared/notes/browser-testing.md): no sandbox as
# root, and no background networking, which would keep trying hosts it cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# JupyterLab's own "news" and update checks would reach the internet and raise a toast.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for a test module (closed after it, so Playwright's event loop
    is gone before other tests run); skips when Debian's chromium is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go (``out/e2e/`` in the checkout, ignored by git)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def offline_context(browser: Any, width: int = 1100, height: int = 900) -> Any:
    """A browser context that serves nothing but ``file:`` URLs: a page opened in it must
    work with no network at all (no CDN for widgets, players or scripts)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        "file:") else route.abort())
    return context


@dataclass
class Lab:
    """A running JupyterLab: its process, port, token and the folder it serves."""

    proc: subprocess.Popen[bytes]
    port: int
    token: str
    root: Path
    log: Path

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?token={self.token}"

    def stop(self) -> None:
        """Stop the server by its own pid (SIGTERM, then SIGKILL); it shuts its kernels."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def lab_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment of a test JupyterLab: the embedded backend (no key), a private
    sora_nb cache, and private Jupyter config/data/runtime dirs (so no user setting, user
    kernelspec or saved workspace changes what the test sees)."""
    env = dict(os.environ)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND"):
        env.pop(name, None)
    dirs = {
        "SORA_NB_CACHE_DIR": base / "sora-cache",
        "JUPYTER_CONFIG_DIR": base / "jupyter-config",
        "JUPYTER_DATA_DIR": base / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": base / "jupyter-runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "lab-workspaces",
        "IPYTHONDIR": base / "ipython",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    for rel, value in LAB_SETTINGS.items():
        target = dirs["JUPYTERLAB_SETTINGS_DIR"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value), "utf-8")
    env.update(extra)
    return env


def start_lab(root: Path, base: Path, env: dict[str, str], timeout: float = 90.0,
              extra_args: list[str] | None = None) -> Lab:
    """Start ``jupyter lab`` on 127.0.0.1 (port chosen by the OS) serving ``root``; return
    once it answers. The port is read back from the server's runtime file."""
    token = secrets.token_hex(16)
    args = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0", "--LabApp.news_url=",
        # window.jupyterapp: lets a test ask the session whether its kernel is connected
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    args += extra_args or []
    log = base / f"jupyter-lab-{secrets.token_hex(3)}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(args, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT)
    lab = Lab(proc, 0, token, root, log)
    runtime = Path(env["JUPYTER_RUNTIME_DIR"])
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{log.read_text('utf-8')[-3000:]}")
            info = runtime / f"jpserver-{proc.pid}.json"
            if info.is_file():
                try:
                    lab.port = int(json.loads(info.read_text("utf-8"))["port"])
                except (ValueError, KeyError):
                    pass  # written but not complete yet
                else:
                    api = f"http://127.0.0.1:{lab.port}/api/status?token={token}"
                    try:
                        with urllib.request.urlopen(api, timeout=5) as response:
                            if response.status == 200:
                                return lab
                    except OSError:
                        pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n"
                                   f"{log.read_text('utf-8')[-3000:]}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)  # doubles as the pause between two looks
    except BaseException:
        lab.stop()
        raise


def copy_notebooks(target: Path, names: list[str] | None = None) -> Path:
    """Copy notebooks (outputs cleared, so every widget on the page is a live one)."""
    import nbformat

    target.mkdir(parents=True, exist_ok=True)
    for src in sorted(NOTEBOOKS.glob("*.ipynb")):
        if names is not None and src.name not in names:
            continue
        nb = nbformat.read(src, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, target / src.name)
    return target


@pytest.fixture()
def lab_factory(tmp_path: Path) -> Iterator[Any]:
    """``lab_factory(**env)`` starts a JupyterLab on a temp copy of notebooks/; every server
    started is stopped at the end of the test, by its own pid."""
    started: list[Lab] = []

    def make(**extra: str) -> Lab:
        root = copy_notebooks(tmp_path / "notebooks")
        lab = start_lab(root, tmp_path, lab_env(tmp_path, **extra))
        started.append(lab)
        return lab

    yield make
    for lab in started:
        lab.stop()
    shutil.rmtree(tmp_path / "sora-cache", ignore_errors=True)


#: A JavaScript predicate: the current notebook's kernel is connected and idle.
KERNEL_READY = """
() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return document.documentElement.innerHTML.includes('Kernel status: Idle') && !!kernel
    && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}
"""
