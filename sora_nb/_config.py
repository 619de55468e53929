"""Backend resolution and settings: explicit argument > ``configure()`` > ``SORA_NB_BACKEND``
> ``OPENAI_API_KEY`` present (OpenAI) > the embedded local backend, started lazily once."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from ._errors import SoraConfigError, SoraParameterError, register_secret
from ._ids import url_segment
from ._poller import PollPolicy
from ._profiles import ProfileName, check_profile, profile_for_url

if TYPE_CHECKING:
    from .local import SharedBackend

__all__ = [
    "Backend",
    "BackendName",
    "cache_dir",
    "cache_dir_path",
    "configure",
    "embedded_server",
    "in_kernel",
    "reset_settings",
    "resolve_backend",
    "settings",
]

BackendName = Literal["local", "openai"]
OPENAI_BASE_URL = "https://api.openai.com/v1"
#: Simulated render time of the embedded backend's jobs, in seconds (``SORA_NB_LOCAL_JOB_SECONDS``).
LOCAL_JOB_SECONDS = 3.0


@dataclass(frozen=True)
class Backend:
    """Where requests go. ``identity`` names the backend for caching and never holds the key;
    ``profile`` says which rules requests to it follow (``sora`` or ``generic``)."""

    name: BackendName
    base_url: str
    api_key: str = field(repr=False)
    identity: str = ""
    profile: ProfileName = "sora"
    #: True when the server honours ``Idempotency-Key`` (a repeated create with the same
    #: key returns the first job): only then is a create retried after a failure that
    #: leaves its outcome unknown (a 5xx, a timeout, a connection dropped after sending).
    #: Servers of the ``sora`` profile do (OpenAI, sora_nb's own backend); ``generic`` ones
    #: count as not, unless ``configure(idempotent=True)`` says so.
    idempotent: bool = False

    @cached_property
    def connection_key(self) -> tuple[str, str, str]:
        """What this backend's clients, pools and polling scheduler are kept under: its
        identity, its URL and a digest of its key (never the key itself). The digest makes
        ``configure(api_key=...)``, or a new server on a reused port, get its own."""
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()
        return (self.identity or self.base_url, self.base_url, digest)

    @property
    def label(self) -> str:
        """A short human name for badges: ``local`` or ``openai`` or the endpoint's host."""
        if self.name == "local":
            return "local"
        host = urlsplit(self.base_url).hostname or self.base_url
        return "openai" if host == "api.openai.com" else host

    def content_url(self, video_id: str, variant: str = "video") -> str:
        """The URL a client GETs (with the key as Bearer token) to download an asset (the
        id percent-encoded as one segment: ids are data, never paths)."""
        url = f"{self.base_url.rstrip('/')}/videos/{url_segment(video_id)}/content"
        return url if variant == "video" else f"{url}?variant={variant}"


@dataclass
class Settings:
    """What ``configure()`` set (``None``: not set, fall back to the environment)."""

    backend: BackendName | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    cache_dir: Path | None = None
    profile: ProfileName | None = None
    idempotent: bool | None = None
    poll: PollPolicy = field(default_factory=PollPolicy)


settings = Settings()
_embedded: SharedBackend | None = None
_embedded_lock = threading.Lock()


def configure(
    backend: BackendName | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    cache_dir: str | Path | None = None,
    profile: ProfileName | None = None,
    idempotent: bool | None = None,
    poll: PollPolicy | None = None,
    reset: bool = False,
) -> None:
    """Set process-wide defaults. ``backend`` is ``"local"`` (the embedded server, or any
    server at ``base_url``) or ``"openai"`` (OpenAI or an OpenAI-compatible ``base_url``).
    ``profile`` (``"sora"`` or ``"generic"``) names the rules requests follow; by default
    it follows the backend: ``sora`` for OpenAI and the embedded backend, ``generic`` for
    any other server. Arguments left as ``None`` keep their current value; ``reset=True``
    first forgets every earlier ``configure()`` (e.g. to go back to the embedded backend).
    ``idempotent=True`` says the server honours ``Idempotency-Key``, so that creates may
    be retried after ambiguous failures (default: servers of the ``sora`` profile)."""
    # Everything is checked before anything changes: a bad call leaves the settings as
    # they were.
    if backend is not None and backend not in ("local", "openai"):
        raise SoraParameterError("backend", backend, "'local' or 'openai'")
    if base_url is not None and not _is_http_url(base_url):
        raise SoraParameterError("base_url", base_url, "an http:// or https:// URL, or None")
    if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
        # the value itself is never shown: it may be a key with a typo
        raise SoraParameterError("api_key", "<hidden>", "a non-empty string, or None")
    folder = _folder("cache_dir", cache_dir) if cache_dir is not None else None
    if idempotent is not None and not isinstance(idempotent, bool):
        raise SoraParameterError("idempotent", idempotent, "True, False or None")
    check_profile(profile)
    if poll is not None and not isinstance(poll, PollPolicy):
        raise SoraParameterError("poll", poll, "a sora_nb.PollPolicy or None")
    if not isinstance(reset, bool):
        raise SoraParameterError("reset", reset, "True or False")
    if reset:
        reset_settings()
    if backend is not None:
        settings.backend = backend
    if base_url is not None:
        settings.base_url = base_url
    if api_key is not None:
        register_secret(api_key)
        settings.api_key = api_key
    if folder is not None:
        settings.cache_dir = folder
    if profile is not None:
        settings.profile = profile
    if idempotent is not None:
        settings.idempotent = idempotent
    if poll is not None:
        settings.poll = poll


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or any(c.isspace() or c == "\x00" for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _folder(param: str, value: object) -> Path:
    """``value`` as a folder path (``~`` expanded), or a SoraParameterError naming ``param``."""
    allowed = "a folder path (str or os.PathLike), or None"
    if not isinstance(value, (str, os.PathLike)):
        raise SoraParameterError(param, value, allowed)
    try:
        text = os.fspath(value)
    except Exception:
        raise SoraParameterError(param, value, allowed) from None
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise SoraParameterError(param, value, allowed)
    return Path(text).expanduser()


def reset_settings() -> None:
    """Forget everything ``configure()`` set (tests use it). Mutates in place, since other
    modules hold ``settings`` by reference."""
    fresh = Settings()
    for name in Settings.__dataclass_fields__:
        setattr(settings, name, getattr(fresh, name))


def cache_dir() -> Path:
    """The folder of the journal, downloads and merges: ``configure(cache_dir=)`` >
    ``SORA_NB_CACHE_DIR`` > the user cache dir; made if missing."""
    path = cache_dir_path()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir_path() -> Path:
    """``cache_dir()`` without making it (for the journal, which makes its folder when it
    connects: a create then costs no ``mkdir``)."""
    if settings.cache_dir is not None:
        return settings.cache_dir
    if env := os.environ.get("SORA_NB_CACHE_DIR"):
        return Path(env).expanduser()
    import platformdirs  # deferred: only needed when no cache dir is configured

    return Path(platformdirs.user_cache_dir("sora_nb"))


def resolve_backend(
    backend: BackendName | Backend | None = None, *, profile: ProfileName | None = None
) -> Backend:
    """Pick the backend: explicit argument > ``configure()`` > ``SORA_NB_BACKEND`` >
    ``OPENAI_API_KEY`` present > the embedded local backend; then its profile: ``profile``
    > ``configure(profile=)`` > what the backend is (see ``profile_for_url``)."""
    check_profile(profile)
    chosen = _resolve(backend)
    named = profile
    if named is None and not isinstance(backend, Backend):
        env = os.environ.get("SORA_NB_PROFILE") or None
        named = settings.profile or check_profile(env, param="SORA_NB_PROFILE")
    if named is not None and named != chosen.profile:
        return replace(chosen, profile=named, idempotent=_idempotent(named))
    return chosen


def _idempotent(profile: ProfileName) -> bool:
    """Whether creates may be retried after an ambiguous failure: as configured, else for
    the ``sora`` profile only (LiteLLM 1.110.2 was measured not to honour the key)."""
    return settings.idempotent if settings.idempotent is not None else profile == "sora"


def _embedded_at(base_url: str, *, dialect: str = "sora") -> bool:
    """True when ``base_url`` is a server that ``sora_nb.local`` started in this process in
    the Sora dialect (``dialect="other"``: in any other dialect, which plays a generic
    server and so gets the generic profile)."""
    module = sys.modules.get("sora_nb.local.server")
    live = getattr(module, "_LIVE", ())
    wanted = base_url.rstrip("/")
    for srv in list(live):
        if srv.base_url.rstrip("/") == wanted:
            spoken = getattr(srv, "dialect", "sora")
            return spoken == "sora" if dialect == "sora" else spoken != "sora"
    return False


def _resolve(backend: BackendName | Backend | None) -> Backend:
    if isinstance(backend, Backend):
        return backend
    if backend is not None and backend not in ("local", "openai"):
        raise SoraParameterError("backend", backend, "'local', 'openai' or a Backend")
    name = backend or settings.backend or os.environ.get("SORA_NB_BACKEND") or None
    if name is None:
        name = "openai" if os.environ.get("OPENAI_API_KEY") else "local"
    if name == "openai":
        key = settings.api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise SoraConfigError(
                "backend 'openai' needs an API key: set OPENAI_API_KEY or call "
                "sora_nb.configure(api_key=...); without a key sora_nb uses its local backend"
            )
        register_secret(key)
        url = settings.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
        profile = profile_for_url(url, embedded=_embedded_at(url))
        return Backend("openai", url, key, identity=f"openai:{url}", profile=profile,
                       idempotent=_idempotent(profile))
    if name != "local":
        raise SoraParameterError("SORA_NB_BACKEND", name, "'local' or 'openai'")
    if settings.base_url:
        key = settings.api_key or ""
        url = settings.base_url
        # "local" at a base_url is sora_nb's own server (`sora-nb serve`): the sora profile,
        # unless it is one started here in another dialect
        profile = "generic" if _embedded_at(url, dialect="other") else "sora"
        return Backend("local", url, key, identity=f"local:{url}", profile=profile,
                       idempotent=_idempotent(profile))
    server = embedded_server()
    return Backend(
        "local", server.base_url, server.api_key, identity=f"local:embedded:{server.data_dir}",
        idempotent=_idempotent("sora"),
    )


def embedded_server() -> SharedBackend:
    """The embedded backend of this process, started on first use with its data kept in
    the cache dir (so jobs survive a kernel restart)."""
    global _embedded
    with _embedded_lock:
        if _embedded is not None and not _embedded.running:
            _embedded = None  # stopped (by the user, or a `with` block): start a new one
        if _embedded is None:
            from . import local  # deferred: aiohttp and render workers, only when needed

            seconds = float(os.environ.get("SORA_NB_LOCAL_JOB_SECONDS", LOCAL_JOB_SECONDS))
            # one backend per cache dir: a second kernel joins the first one's server
            _embedded = local.shared(cache_dir() / "local-backend", job_seconds=seconds)
            register_secret(_embedded.api_key)
            # In a notebook an informational line on stderr looks like an error (a red
            # box); in a terminal, stdout stays clean for piping paths.
            print(
                "sora_nb: no API key set; using the embedded local backend "
                "(synthetic videos)",
                file=sys.stdout if in_kernel() else sys.stderr,
            )
        return _embedded


def in_kernel() -> bool:
    """True inside a running Jupyter kernel (ipykernel), and only there."""
    app = sys.modules.get("ipykernel.kernelapp")
    kernel_app = getattr(app, "IPKernelApp", None)
    return bool(kernel_app is not None and kernel_app.initialized())

