"""Key-leak sweep: with two fake keys configured (one in ``OPENAI_API_KEY`` for an
OpenAI-compatible server, one passed to ``configure()`` and rejected with 401) and the
embedded server's own key, every output sora_nb produces is searched for each key: reprs,
str of every error, tracebacks with locals, DEBUG logs of sora_nb, openai and httpx, the
journal and every cache file, card and gallery HTML, the CLI, and an executed notebook.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sora_nb as snb
from sora_nb import _config
from sora_nb.cli import main as cli_main
from sora_nb.local import MODERATION_MARKER, LocalServer, start

from ._report import Ledger

pytestmark = pytest.mark.slow

#: Shaped like an OpenAI project key (sora_nb also masks that shape by pattern) ...
KEY_A = f"sk-proj-LEAKTEST{secrets.token_hex(12)}"
#: ... and shaped like nothing in particular, so only real care keeps it out.
KEY_B = f"leak-b-{secrets.token_hex(16)}"
LOGGERS = ("sora_nb", "sora_nb.local", "openai", "httpx", "httpx2", "httpcore", "aiohttp")


@pytest.fixture()
def keyed(cache: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[LocalServer, LocalServer]]:
    """``openai_srv`` accepts KEY_A (reached as backend "openai" through OPENAI_* env);
    ``local_srv`` has its own random key and is the configured default backend."""
    with start(job_seconds=0.3, poll_after_ms=30, api_key=KEY_A) as openai_srv, \
            start(job_seconds=0.3, poll_after_ms=30) as local_srv:
        monkeypatch.setenv("OPENAI_API_KEY", KEY_A)
        monkeypatch.setenv("OPENAI_BASE_URL", openai_srv.base_url)
        snb.configure(backend="local", base_url=local_srv.base_url, api_key=local_srv.api_key,
                      poll=snb.PollPolicy(min_interval=0.02, max_interval=0.1, max_failures=1))
        yield openai_srv, local_srv
        _config.reset_settings()


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(
        exc, capture_locals=True).format())


def _files(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


def test_no_key_in_any_output(
    keyed: tuple[LocalServer, LocalServer], cache: Path, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], ledger: Ledger,
) -> None:
    openai_srv, local_srv = keyed
    keys = {"KEY_A": KEY_A, "KEY_B": KEY_B, "server key": local_srv.api_key}
    texts: dict[str, str] = {}
    errors: list[BaseException] = []

    def grab(label: str, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except BaseException as exc:
            if not isinstance(exc, snb.SoraError):
                raise
            errors.append(exc)
            return None
        texts[label] = repr(value) + "\n" + str(value)
        return value

    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)

    # Jobs on both backends, through every path that talks to a server.
    job = grab("job", lambda: snb.SoraJob("A key-leak sweep", seconds=4, size="720x1280",
                                          cache=False))
    remote = grab("remote job", lambda: snb.SoraJob("Over the OpenAI-compatible backend",
                                                    seconds=4, backend="openai", cache=False))
    failed = grab("failed job", lambda: snb.SoraJob(f"Blocked {MODERATION_MARKER}",
                                                    seconds=4, cache=False))
    assert job is not None and remote is not None and failed is not None
    grab("wait", job.wait)
    grab("remote wait", remote.wait)
    grab("failed wait", failed.wait)  # SoraJobFailed, collected
    grab("download", lambda: job.download("video", tmp_path / "out.mp4"))
    grab("remote download", lambda: remote.download("thumbnail"))
    grab("remix", lambda: job.remix("The same, at night"))
    grab("attach", lambda: snb.SoraJob.attach(job.id))
    grab("status", lambda: snb.get_sora_video_status(job.id))
    grab("history", lambda: snb.history(include_deleted=True))
    grab("snapshot", job.snapshot)
    grab("settings", lambda: _config.settings)
    grab("backend", lambda: job.backend)
    grab("remote backend", lambda: remote.backend)
    grab("servers", lambda: (openai_srv, local_srv))
    grab("gallery", lambda: snb.gallery(limit=10)._repr_mimebundle_())
    grab("card", lambda: (job._repr_html_(), job._repr_mimebundle_(), failed._repr_html_()))
    grab("compare", lambda: snb.compare([job, remote])._repr_mimebundle_())
    grab("param error", lambda: snb.SoraJob("x", seconds="forever"))

    # A wrong key (KEY_B) configured: every call is refused with 401.
    snb.configure(api_key=KEY_B)
    grab("rejected create", lambda: snb.SoraJob("Refused", seconds=4, cache=False))
    grab("rejected attach", lambda: snb.SoraJob.attach(job.id))
    grab("rejected status", lambda: snb.get_sora_video_status(job.id))
    # An unreachable backend with KEY_B.
    snb.configure(base_url="http://127.0.0.1:9/v1")
    grab("unreachable", lambda: snb.SoraJob("Nowhere", seconds=4, cache=False))
    snb.configure(base_url=local_srv.base_url, api_key=local_srv.api_key)

    # The CLI.
    grab("cli list", lambda: cli_main(["list"]))
    grab("cli status", lambda: cli_main(["status", job.id]))

    kinds = {type(e).__name__ for e in errors}
    assert {"SoraJobFailed", "SoraAuthenticationError", "SoraConnectionError",
            "SoraParameterError"} <= kinds, kinds
    for i, exc in enumerate(errors):
        texts[f"error {i} str"] = str(exc) + "\n" + repr(exc)
        texts[f"error {i} traceback with locals"] = _traceback(exc)
    captured = capsys.readouterr()
    texts["stdout"], texts["stderr"] = captured.out, captured.err
    texts["logs"] = caplog.text + "\n".join(
        _traceback(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]
    )
    assert caplog.records, "DEBUG logging captured nothing"

    files = dict(_files(cache))
    assert any("journal" in p.name for p in files), sorted(map(str, files))
    notebook = _executed_notebook(tmp_path, openai_srv)
    texts["executed notebook"] = notebook

    leaks = [(key_name, label) for key_name, key in keys.items()
             for label, text in texts.items() if key in text]
    leaks += [(key_name, str(path)) for key_name, key in keys.items()
              for path, data in files.items() if key.encode() in data]
    assert leaks == []

    ledger.record(
        "keyleak", "two fake keys (an sk-proj- key in OPENAI_API_KEY for an OpenAI-compatible "
        "server, a free-form key given to configure() and refused with 401) and the "
        "embedded server's key",
        f"{len(texts)} outputs: reprs and str of jobs, snapshots, settings, backends, "
        f"servers, history; str and tracebacks with locals of every error; DEBUG logs of "
        f"{', '.join(LOGGERS)}; stdout/stderr and the CLI; card, compare and gallery HTML; "
        "every file in the cache dir; an executed notebook",
        "no key in any of them",
        f"{len(errors)} errors ({', '.join(sorted(kinds))}), {len(caplog.records)} log "
        f"records, {len(files)} cache files",
    )


NOTEBOOK_CELLS = [
    "import sora_nb as snb\nsnb.configure(backend='openai')\n"
    "job = snb.SoraJob('A notebook under a key-leak sweep', seconds=4, cache=False)\njob",
    "job.wait()\njob",
    "print(repr(job), job.snapshot(), snb.history())",
    "import os\nsnb.configure(api_key=os.environ['LEAK_KEY_B'])\n"
    "snb.SoraJob('refused', seconds=4, cache=False)",
    "%xmode Verbose\nsnb.SoraJob.attach(job.id)",
    "snb.gallery(limit=5)",
]


def _executed_notebook(tmp_path: Path, openai_srv: LocalServer) -> str:
    """Run a small notebook in a real kernel (KEY_A in its environment, KEY_B typed into
    a cell from the environment) and return the executed .ipynb text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    env = dict(os.environ, OPENAI_API_KEY=KEY_A, OPENAI_BASE_URL=openai_srv.base_url,
               LEAK_KEY_B=KEY_B, SORA_NB_CACHE_DIR=str(tmp_path / "nb-cache"),
               IPYTHONDIR=str(tmp_path / "ipython"))
    env.pop("SORA_NB_BACKEND", None)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.km = client.create_kernel_manager()
    client.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f",
                            "{connection_file}"]
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits the environment it is started with
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    assert any(o.get("output_type") == "error" for o in outputs), "no error cell ran"
    assert any("text/html" in o.get("data", {}) for o in outputs), "no card was shown"
    text = nbformat.writes(nb)
    return text
