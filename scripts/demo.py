"""``make demo``: run notebooks/01_quickstart.ipynb headless on the embedded backend, with a
live terminal progress line, and write out/quickstart.ipynb and out/quickstart.html.

A script, not part of the installed package: it needs nbclient and nbconvert (the test
extra), which a user of sora_nb does not."""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sora_nb._display import FINAL_STATUSES, status_word
from sora_nb._fs import atomic_write_text
from sora_nb._show import MEDIA_DIR

__all__ = ["NOTEBOOK", "current_env_kernel", "execute_notebook", "export_html", "main"]

NOTEBOOK = Path("notebooks") / "01_quickstart.ipynb"
#: The kernel name ``current_env_kernel()`` answers to: this interpreter, whatever
#: kernelspecs the user has installed elsewhere.
KERNEL_NAME = "sora-nb-current-env"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# The card's own markup (sora_nb._display.card_html): its status and the error code.
_CARD_STATUS = re.compile(r'class="sora-nb-card" data-status="([a-z_]+)"')
_CARD_ERROR = re.compile(r'class="sora-nb-error"[^>]*><b>([^<]*)</b>')


def current_env_kernel() -> type[Any]:
    """A kernel manager class whose kernel ``KERNEL_NAME`` is ``ipykernel`` on this very
    interpreter (a user-level ``python3`` kernelspec could point at another Python without
    sora_nb)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            if kernel_name != KERNEL_NAME:
                return super().get_kernel_spec(kernel_name)
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python {sys.version_info.major} (sora_nb)", language="python",
                metadata={"debugger": False},
            )

    class Manager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("kernel_spec_manager", Specs())
            super().__init__(**kwargs)

    return Manager


class _Progress:
    """The terminal line: which cell runs, and the live card's percentage while a job
    renders (read from the widget messages the kernel sends)."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.bars: set[str] = set()
        self.index = 0
        self.label = ""
        self.started = time.monotonic()
        self.percent: int | None = None
        self.outcome: str | None = None
        self._last = ""

    def cell(self, number: int, source: str) -> None:
        self.index = number
        first = next((line for line in source.splitlines() if line.strip()), "")
        self.label = first if len(first) <= 60 else first[:57] + "..."
        self.started = time.monotonic()
        self.percent = None
        self.outcome = None
        self._draw(final=False)

    def done(self) -> None:
        self._draw(final=True)

    def comm(self, msg: Mapping[str, Any]) -> None:
        content = msg.get("content", {})
        state = content.get("data", {}).get("state", {})
        comm_id = content.get("comm_id", "")
        if state.get("_model_name") == "IntProgressModel":
            self.bars.add(comm_id)
        if comm_id in self.bars and "value" in state:
            self.percent = int(state["value"])
            self._draw(final=False)

    def display(self, msg: Mapping[str, Any]) -> None:
        """A card shown or replaced: once final, its status words replace the bar (a
        failed job reads "failed (moderation_blocked)", not a frozen percentage)."""
        markup = msg.get("content", {}).get("data", {}).get("text/html", "")
        status = _CARD_STATUS.search(markup) if isinstance(markup, str) else None
        if status is None or status[1] not in FINAL_STATUSES:
            return
        code = _CARD_ERROR.search(markup)
        self.outcome = status_word(status[1]) + (f" ({html.unescape(code[1])})" if code else "")
        self._draw(final=False)

    def _draw(self, *, final: bool) -> None:
        head = f"[{self.index:2d}/{self.total}] {self.label}"
        if self.outcome is not None:
            head += f"  {self.outcome}"
        elif self.percent is not None:
            filled = self.percent * 20 // 100
            head += f"  [{'#' * filled}{'-' * (20 - filled)}] {self.percent:3d}%"
        if final:
            head += f"  ({time.monotonic() - self.started:.1f} s)"
        if self.tty:
            pad = " " * max(0, len(self._last) - len(head))
            self.stream.write("\r" + head + pad + ("\n" if final else ""))
            self._last = "" if final else head
        elif final:
            self.stream.write(head + "\n")
        self.stream.flush()


@contextmanager
def _demo_env(job_seconds: float | None) -> Iterator[Path]:
    """The environment the kernel inherits: the embedded backend and a fresh cache, so
    the card shows a real render instead of a cached result."""
    saved = dict(os.environ)
    cache = Path(tempfile.mkdtemp(prefix="sora_nb-demo-"))
    os.environ["SORA_NB_BACKEND"] = "local"
    os.environ["SORA_NB_CACHE_DIR"] = str(cache)
    if job_seconds is not None:
        os.environ["SORA_NB_LOCAL_JOB_SECONDS"] = str(job_seconds)
    try:
        yield cache
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(cache, ignore_errors=True)


def execute_notebook(path: Path, cwd: Path, *, stream: IO[str] | None = None,
                     timeout: float = 600.0, kernel_stderr: IO[bytes] | None = None) -> Any:
    """Run ``path`` top to bottom in a fresh kernel whose working directory is ``cwd``
    (so ``job.show()`` links media under ``cwd/sora_nb_media``), storing the widget state
    in the notebook's metadata. Per-cell progress goes to ``stream`` (stderr), the
    kernel's own stderr to ``kernel_stderr`` if given. Returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]  # untyped lib
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    progress = _Progress(len(code_cells), stream if stream is not None else sys.stderr)
    numbers = {id(c): i for i, c in enumerate(code_cells, 1)}

    class Client(NotebookClient):
        async def _async_poll_output_msg(self, parent_msg_id: str, cell: Any,
                                         cell_index: int) -> None:
            # nbclient keeps only the messages of the running cell. The live card is
            # updated from sora_nb's background thread, whose widget messages carry another
            # parent: without them the stored widget state freezes at "queued 0%".
            assert self.kc is not None
            while True:
                msg = await self.kc.iopub_channel.get_msg(timeout=None)
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    try:
                        self.process_message(msg, cell, cell_index)
                    except CellExecutionComplete:
                        return
                elif msg["msg_type"] in ("comm_open", "comm_msg"):
                    self.handle_comm_msg([], msg, cell_index)
                elif msg["msg_type"] == "update_display_data":
                    # A card turning static when its job is final (sent from the runtime
                    # thread): nbclient applies it to every output with its display id.
                    self.process_message(msg, cell, cell_index)
                if msg["msg_type"] in ("display_data", "update_display_data"):
                    progress.display(msg)

        def handle_comm_msg(self, outs: Any, msg: dict[str, Any], cell_index: int) -> None:
            super().handle_comm_msg(outs, msg, cell_index)
            progress.comm(msg)

    def started(cell: Any, cell_index: int) -> None:
        if cell.cell_type == "code":
            progress.cell(numbers[id(cell)], cell.source)

    def finished(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if cell.cell_type == "code":
            progress.done()

    client = Client(
        nb, kernel_manager_class=current_env_kernel(), kernel_name=KERNEL_NAME,
        timeout=int(timeout), store_widget_state=True,
        resources={"metadata": {"path": str(cwd)}}, on_cell_start=started,
        on_cell_executed=finished,
    )
    launch: dict[str, Any] = {"cwd": str(cwd)}
    if kernel_stderr is not None:
        launch["stderr"] = kernel_stderr
    client.execute(**launch)
    return nb


def export_html(nb: Any) -> str:
    """The notebook as a standalone HTML page (JupyterLab look), widget state included."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]  # untyped
    body, _ = exporter.from_notebook_node(nb)
    return str(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/demo.py",
        description="Run the quickstart notebook headless on the embedded backend and "
        "write it, executed, as .ipynb and .html.",
    )
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--job-seconds", type=float, default=None,
                        help="simulated render time of the embedded backend (default 3)")
    args = parser.parse_args(argv)
    notebook: Path = args.notebook
    if not notebook.is_file():
        parser.error(f"--notebook {str(notebook)!r}: no such file; give an existing .ipynb")
    if args.job_seconds is not None and not 0 <= args.job_seconds <= 600:
        parser.error(f"--job-seconds {args.job_seconds!r}: give seconds from 0 to 600")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / MEDIA_DIR, ignore_errors=True)  # media of an earlier run

    import nbformat
    from nbclient.exceptions import CellExecutionError

    print(f"sora_nb demo: running {notebook} on the embedded local backend", file=sys.stderr)
    # The kernel's stderr (its own warnings, the backend's worker processes) is shown
    # only if something fails.
    with _demo_env(args.job_seconds), tempfile.TemporaryFile() as kernel_log:
        try:
            nb = execute_notebook(notebook, out, kernel_stderr=kernel_log)
        except (CellExecutionError, RuntimeError) as exc:
            kernel_log.seek(0)
            log = kernel_log.read().decode("utf-8", "replace")[-4000:]
            print(f"sora_nb demo: failed: {exc}\n--- kernel stderr ---\n{log}", file=sys.stderr)
            return 1
    stem = notebook.stem.split("_", 1)[-1]
    ipynb, page = out / f"{stem}.ipynb", out / f"{stem}.html"
    atomic_write_text(ipynb, nbformat.writes(nb))  # type: ignore[no-untyped-call]  # untyped
    atomic_write_text(page, export_html(nb))
    cards = sum(
        1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
        if 'class="sora-nb-card"' in str(o.get("data", {}).get("text/html", ""))
    )
    videos = len(list((out / MEDIA_DIR).glob("*.mp4")))
    print(f"sora_nb demo: done: {cards} job cards, {videos} videos in {out / MEDIA_DIR}",
          file=sys.stderr)
    print(ipynb)
    print(page)
    for media in sorted((out / MEDIA_DIR).glob("*")):
        print(media)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
