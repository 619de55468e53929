"""Atomic file writes: everything sora_nb puts on disk is written to a temporary file in
the target folder and renamed into place, so nothing half-written is ever left behind; the
temporary files of a process that died mid-write are swept by the next write there."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: temporary files are swept by owner process and age alone
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GRACE_SECONDS",
    "TEMP_PATTERN",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "sweep_temps",
]

#: ``.<stem>.sora-tmp-<pid>-<12 hex><suffix>``: hidden, owned by ``pid``, and recognisable,
#: so a sweep never touches a file sora_nb did not make.
TEMP_PATTERN = re.compile(r"^\..*\.sora-tmp-(\d+)-[0-9a-f]{12}(\.[A-Za-z0-9]+)?$")
#: A temporary file younger than this is never swept (it may be between its creation and
#: its lock, or be a hard link being renamed into place).
GRACE_SECONDS = 60.0
#: A folder is swept at most this often by one process.
SWEEP_EVERY = 60.0
_swept: dict[Path, float] = {}
_swept_lock = threading.Lock()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: keep its file
    return True


def _owned_by_a_live_writer(path: Path) -> bool:
    """True while a writer holds the file's lock (released by the kernel when the writer
    dies, even by SIGKILL). Without ``fcntl`` every file counts as unlocked."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # gone already, or not ours to open
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock at once
    return False


def sweep_temps(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files in ``folder`` left by writers that died mid-write: no
    live writer holds their lock, and their owner process is gone (or they are older than
    ``GRACE_SECONDS`` with nobody holding them). Returns what was removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_PATTERN.match(entry.name)
        if match is None:
            continue
        path = Path(entry.path)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        # ctime too: a fresh hard link (publish_media) keeps its source's old mtime
        young = now - max(st.st_mtime, st.st_ctime) < GRACE_SECONDS
        if _owned_by_a_live_writer(path) or (young and _alive(int(match[1]))):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _sweep_now_and_then(folder: Path) -> None:
    with _swept_lock:
        last = _swept.get(folder)
        clock = time.monotonic()
        if last is not None and clock - last < SWEEP_EVERY:
            return
        if len(_swept) > 4096:
            _swept.clear()
        _swept[folder] = clock
    sweep_temps(folder)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``,
    on any exception remove it. The temporary name keeps ``target``'s suffix (or
    ``suffix``) so tools that infer a format from the extension (ffmpeg) still work."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_now_and_then(target.parent)
    while True:
        name = f".{target.stem}.sora-tmp-{os.getpid()}-{secrets.token_hex(6)}"
        tmp = target.parent / f"{name}{suffix or target.suffix}"
        try:
            # 0o666 minus the umask, like any ordinary file (mkstemp would force 0600)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        # Held until the rename: a sweep in another process (or thread) sees the file is
        # being written; the kernel drops the lock if this process dies, even by SIGKILL.
        # (blocking: a sweep's probe holds it for an instant at most)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return ``target`` as a Path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return ``target`` as a Path."""
    return atomic_write_bytes(target, text.encode("utf-8"))
