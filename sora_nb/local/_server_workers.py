"""Render worker processes, started as ``python -m sora_nb.local._worker_main`` and fed
pickled tasks over a pipe: unlike multiprocessing's spawn/forkserver workers they never
re-import the user's ``__main__``, so a plain script without a main guard works."""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import IO, Any

__all__ = ["WorkerDied", "WorkerPool"]

_HEADER = struct.Struct("!I")
#: The entry module of a worker: a module the package never imports itself, so that
#: ``python -m`` runs it without a double import.
WORKER_MAIN = "sora_nb.local._worker_main"


class WorkerDied(RuntimeError):
    """A render worker process exited in the middle of a task."""


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # our own child process on our own pipe: trusted


class WorkerPool:
    """At most ``size`` long-lived worker processes, started on demand. ``call`` blocks
    (run it in a thread) and raises ``WorkerDied`` if its worker exits mid-task."""

    def __init__(self, size: int, niceness: int) -> None:
        self.size = size
        self.niceness = niceness
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._idle: list[subprocess.Popen[bytes]] = []
        self._all: set[subprocess.Popen[bytes]] = set()
        self._closed = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        # The workers see the server's import path (tests and notebooks may extend it).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        return subprocess.Popen(
            [sys.executable, "-m", WORKER_MAIN, str(self.niceness)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            # A process group of their own: a Ctrl-C or a kernel interrupt aimed at the
            # server's process group is not theirs (the server stops them itself). Not a
            # session of their own: with Linux autogroup scheduling (on by default) a new
            # session is a new scheduling group, where `nice` counts only inside the group,
            # so each render took as much CPU as the server's whole process.
            process_group=0,
        )

    def call(self, function: str, *args: object) -> None:
        """Run ``function`` (``"module:name"``) with ``args`` in a worker; re-raise its error."""
        with self._slots:
            with self._lock:
                if self._closed:
                    raise WorkerDied("the render pool is shut down")
                proc = self._idle.pop() if self._idle else None
                if proc is None:
                    proc = self._spawn()
                    self._all.add(proc)
            assert proc.stdin is not None and proc.stdout is not None
            try:
                _send(proc.stdin, (function, args))
                ok, payload = _recv(proc.stdout)
            except (EOFError, OSError) as exc:
                self._discard(proc)
                raise WorkerDied("the render worker process died") from exc
            with self._lock:
                if self._closed:
                    self._discard(proc)
                else:
                    self._idle.append(proc)
            if not ok:
                raise RuntimeError(payload)

    def _discard(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with self._lock:
            self._all.discard(proc)

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(p.pid for p in self._all)

    def shutdown(self) -> None:
        """Kill every worker now, idle or busy (a busy task then raises ``WorkerDied``)."""
        with self._lock:
            self._closed = True
            procs = list(self._all)
            self._idle.clear()
        for proc in procs:
            self._discard(proc)


def serve(niceness: int) -> None:
    """The worker's loop: one task at a time until the server closes the pipe (or dies,
    which closes it too)."""
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    nice = getattr(os, "nice", None)
    if nice is not None:
        # Renders (and their ffmpeg) yield the CPU to the server's requests and the notebook.
        with contextlib.suppress(OSError):
            nice(niceness)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a render prints may corrupt the reply pipe
    while True:
        try:
            function, args = _recv(stdin)
        except EOFError:
            return
        module_name, _, name = function.partition(":")
        try:
            getattr(importlib.import_module(module_name), name)(*args)
        except BaseException as exc:  # reported to the server, which fails the job
            reply: tuple[bool, str] = (False, f"{exc}" or type(exc).__name__)
        else:
            reply = (True, "")
        _send(stdout, reply)
