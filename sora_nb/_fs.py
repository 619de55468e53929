"""Atomic file writes: everything sora_nb puts on disk is written to a temporary file in
the target folder and renamed into place, so nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``,
    on any exception remove it. The temporary name keeps ``target``'s suffix (or
    ``suffix``) so tools that infer a format from the extension (ffmpeg) still work."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.parent / f".{target.stem}.{secrets.token_hex(6)}{suffix or target.suffix}"
        try:
            # 0o666 minus the umask, like any ordinary file (mkstemp would force 0600)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return ``target`` as a Path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return ``target`` as a Path."""
    return atomic_write_bytes(target, text.encode("utf-8"))
