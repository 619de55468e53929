"""One embedded backend per data folder, shared by every process that uses the folder: the
first starts a server and leaves a discovery file (port and key, private from creation); the
others find it alive and connect instead of starting a server that would not see its jobs."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import SoraParameterError, register_secret

__all__ = ["DISCOVERY_FILE", "SharedBackend", "shared", "write_private"]

#: The discovery file in the data folder: {"pid", "port", "base_url", "api_key"}, mode 0600.
DISCOVERY_FILE = "server.json"
_LOCK_FILE = "server.lock"
#: Seconds to wait for a found server to answer before calling it stale.
_PROBE_SECONDS = 3.0


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, from the first byte: the
    temporary file is created 0600 by ``os.open`` (never created 0666 and chmod-ed after,
    which leaves a window), filled, synced, then renamed over ``path`` atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class SharedBackend:
    """The embedded backend of a data folder, as :func:`shared` found or started it.

    ``base_url`` and ``api_key`` go to ``openai.OpenAI``; ``server`` is the
    :class:`LocalServer` when this process started it, else None (another process serves).
    """

    def __init__(self, data_dir: Path, base_url: str, api_key: str,
                 server: Any | None) -> None:
        self.data_dir = data_dir
        self.base_url = base_url
        self.__key = api_key
        self.server = server

    @property
    def api_key(self) -> str:
        return self.__key

    @property
    def started(self) -> bool:
        """True if this process runs the server (and stops it in ``stop()``)."""
        return self.server is not None

    @property
    def running(self) -> bool:
        """True while it serves: one started here until ``stop()``; another process's while
        its discovery file still names it (``embedded_server()`` starts a new one else)."""
        if self.server is not None:
            return bool(self.server.running)
        try:
            info = json.loads((self.data_dir / DISCOVERY_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(info, dict) and info.get("base_url") == self.base_url

    def __repr__(self) -> str:
        how = "started here" if self.started else "shared"
        return f"<SharedBackend {self.base_url} {how}>"

    def stop(self) -> None:
        """Stop the server if this process started it, and withdraw its discovery file;
        a server found in another process is left alone."""
        if self.server is None:
            return
        self.server.stop()
        path = self.data_dir / DISCOVERY_FILE
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text("utf-8")).get("base_url") == self.base_url:
                path.unlink()


def shared(data_dir: Path | str, **start_kwargs: Any) -> SharedBackend:
    """The backend serving ``data_dir``: the live server another process started there, or
    a new one (started with ``start(data_dir=data_dir, **start_kwargs)``) that later
    processes will find. A discovery file whose server does not answer is stale and
    replaced. Starting is serialised by a lock file, so two processes never both start."""
    if isinstance(data_dir, bool) or not isinstance(data_dir, (str, os.PathLike)):
        raise SoraParameterError("data_dir", data_dir, "a folder path")
    if "data_dir" in start_kwargs:
        raise SoraParameterError("data_dir", start_kwargs["data_dir"], "given once, first")
    folder = Path(data_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / _LOCK_FILE):
        found = _live(folder / DISCOVERY_FILE)
        if found is not None:
            base_url, key = found
            register_secret(key)
            return SharedBackend(folder, base_url, key, None)
        from .server import start

        server = start(data_dir=folder, **start_kwargs)
        info = {"pid": os.getpid(), "port": server.port, "base_url": server.base_url,
                "api_key": server.api_key}
        write_private(folder / DISCOVERY_FILE, json.dumps(info))
        return SharedBackend(folder, server.base_url, server.api_key, server)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock between processes (POSIX ``flock``; elsewhere none)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; at worst two servers start, as before
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _live(path: Path) -> tuple[str, str] | None:
    """``(base_url, api_key)`` from the discovery file if its server answers with that key
    on loopback, else None (missing, unreadable, or stale)."""
    try:
        info = json.loads(path.read_text("utf-8"))
        base_url, key = str(info["base_url"]), str(info["api_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not base_url.startswith(("http://127.0.0.1:", "http://[::1]:")):
        return None  # only ever a loopback server of our own
    request = urllib.request.Request(f"{base_url}/videos?limit=0",
                                     headers={"Authorization": f"Bearer {key}"})
    try:
        # no proxies: an http_proxy in the environment must not see a loopback key
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=_PROBE_SECONDS) as response:
            alive = response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return (base_url, key) if alive else None
