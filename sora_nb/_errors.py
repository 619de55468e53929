"""Typed errors of sora_nb. Every message names what went wrong and what to do; none ever
contains an API key (``redact`` scrubs every message built from server or SDK text).

    SoraError
    ├── SoraParameterError (ValueError)   a parameter is invalid: its name, value, what is allowed
    ├── SoraConfigError                   the backend configuration is unusable
    ├── SoraAPIError                      the backend refused a request (HTTP status, code)
    │   ├── SoraAuthenticationError       the key was rejected (401)
    │   └── SoraUnsupported               the server has no such operation (remix, list, ...)
    ├── SoraConnectionError               the backend stayed unreachable through every retry
    ├── SoraOutcomeUnknown                a create failed after it was sent: a job may exist
    ├── SoraProtocolError                 a server answer is unusable (e.g. a path-shaped id)
    ├── SoraJobFailed                     the job ended without a video (carries the job)
    │   ├── SoraJobCancelled              ... because it was cancelled on the server
    │   └── SoraJobExpired                ... because the server let it expire
    ├── SoraTimeout (TimeoutError)        a wait ran past its deadline (carries the job)
    └── SoraMediaError                    a download, probe or merge went wrong
        ├── SoraAudioError                the audio given to a merge is unusable
        └── SoraContentError              a download is not the file its variant names

``SoraJobCancelled`` and ``SoraJobExpired`` are ``SoraJobFailed``s: code that asks "did I
get a video?" catches one class; code that cares why tells them apart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._job import SoraJob

__all__ = [
    "SoraAPIError",
    "SoraAudioError",
    "SoraAuthenticationError",
    "SoraConfigError",
    "SoraConnectionError",
    "SoraContentError",
    "SoraError",
    "SoraJobCancelled",
    "SoraJobExpired",
    "SoraJobFailed",
    "SoraMediaError",
    "SoraOutcomeUnknown",
    "SoraParameterError",
    "SoraProtocolError",
    "SoraTimeout",
    "SoraUnsupported",
    "from_sdk",
    "redact",
    "register_secret",
]

_SECRETS: set[str] = set()
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|sora-local-[A-Za-z0-9_\-]{6,})")


def register_secret(secret: str | None) -> None:
    """Remember a key so that ``redact`` removes it from any text."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    """Return ``text`` with every known API key, and anything shaped like one, masked."""
    for secret in _SECRETS:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


class SoraError(Exception):
    """Base class of every error sora_nb raises."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        """The error's text (without the class name)."""
        return str(self.args[0]) if self.args else ""


class SoraParameterError(SoraError, ValueError):
    """A parameter is invalid. Carries the parameter name, the value and what is allowed."""

    def __init__(self, param: str, value: Any, allowed: str, *, detail: str = "") -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        text = f"{param}={shown} is not allowed: {allowed}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)
        self.param = param
        self.value = value
        self.allowed = allowed


class SoraConfigError(SoraError):
    """The backend configuration cannot be used (unknown backend, missing key, ...)."""


class SoraAPIError(SoraError):
    """The backend answered a request with an error."""

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class SoraAuthenticationError(SoraAPIError):
    """The backend rejected the API key. Check OPENAI_API_KEY or ``configure(api_key=...)``."""


class SoraConnectionError(SoraError):
    """The backend could not be reached, even after retrying with backoff."""


class SoraUnsupported(SoraAPIError):
    """The server has no such operation (it answered 404, 405 or 400 to it). sora_nb
    remembers the answer per backend and does not ask that server again."""

    def __init__(self, operation: str, server: str, *, status_code: int | None = None) -> None:
        self.operation = operation
        self.server = server
        said = (f"it answered HTTP {status_code}" if status_code is not None
                else "as it answered earlier")
        super().__init__(
            f"{server} does not support {operation} ({said}); "
            f"sora_nb will not ask it again in this process",
            status_code=status_code, code="unsupported",
        )


class SoraOutcomeUnknown(SoraError):
    """A create (or remix, edit, extend) failed *after* the request may have reached the
    server: a job may exist, and be billed, although sora_nb never saw its id. sora_nb
    did not retry it blindly (that could pay twice). ``.idempotency_key`` is the key the
    request carried and ``.entry`` the journal entry (status ``"unknown"``) that records it:
    look for the job in ``sora_nb.history()``, in the backend's own list, and follow it
    with ``SoraJob.attach(id)``."""

    def __init__(self, reason: str, *, idempotency_key: str, entry: Any = None,
                 backend: str = "the backend", last_error: SoraError | None = None) -> None:
        self.idempotency_key = idempotency_key
        self.entry = entry
        self.reason = reason
        #: The last failure as a ``SoraError`` (e.g. the ``SoraAPIError`` of a 502).
        self.last_error = last_error
        super().__init__(
            f"the request to {backend} failed after it was sent ({reason}): a job may "
            f"exist there although no id came back, and sora_nb stopped rather than risk "
            f"creating (and paying for) it twice. Look for it with snb.history() (status "
            f"'unknown', idempotency key {idempotency_key}) or the backend's own list, "
            f"and follow it with snb.SoraJob.attach(video_id)"
        )


class SoraProtocolError(SoraError):
    """A server's answer cannot be used as it is (an id shaped like a path, a missing
    id, ...). Nothing was written from it; the text says which server and which field."""


class SoraJobFailed(SoraError):
    """The job ended without a video (status ``failed``, or one of the subclasses'
    statuses). ``.job``, ``.code`` and ``.reason`` say why."""

    verb = "failed"

    def __init__(self, job: SoraJob, code: str | None, reason: str | None) -> None:
        self.job = job
        self.code = code or "unknown_error"
        self.reason = reason or "the server gave no reason"
        super().__init__(f"Sora job {job.id} {self.verb} [{self.code}]: {self.reason}")


class SoraJobCancelled(SoraJobFailed):
    """The job was cancelled on the server (status ``cancelled``): no video will come.
    Start it again with the same parameters to get one."""

    verb = "was cancelled on the server"


class SoraJobExpired(SoraJobFailed):
    """The server let the job expire (status ``expired``): its assets are gone. Start it
    again (``cache=False``) to make the video anew."""

    verb = "expired on the server"


class SoraTimeout(SoraError, TimeoutError):
    """A wait ran past its deadline. The job goes on on the server: ``job.resume()`` or
    ``SoraJob.attach(job.id)`` continue it."""

    def __init__(self, job: SoraJob, waited: float) -> None:
        self.job = job
        self.waited = waited
        done = "progress not reported" if job.progress is None else f"{job.progress}%"
        super().__init__(
            f"Sora job {job.id} still {job.status} ({done}) after {waited:.1f} s; "
            f"it goes on on the server: call job.resume() or job.wait() again, "
            f"or snb.SoraJob.attach({job.id!r}) later"
        )


class SoraMediaError(SoraError):
    """A media file could not be downloaded, read or written."""


class SoraAudioError(SoraMediaError):
    """The audio given to a merge is empty, corrupt, missing or of an unsupported kind."""


class SoraContentError(SoraMediaError):
    """A download is not what its variant names (e.g. ``thumbnail`` came back as an MP4,
    or an HTML error page came back as ``video``). Nothing of it is kept on disk."""

    def __init__(self, message: str, *, variant: str, server: str, found: str | None) -> None:
        super().__init__(message)
        self.variant = variant
        self.server = server
        self.found = found


def from_sdk(exc: BaseException) -> SoraError:
    """Translate an ``openai`` SDK exception into the matching ``SoraError`` (key-free)."""
    # Deferred: this leaf module is imported by the local server's render workers too,
    # which never need the SDK.
    import openai

    if isinstance(exc, SoraError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        message = str(err.get("message") or exc.message) if isinstance(err, dict) else exc.message
        code = err.get("code") if isinstance(err, dict) else None
        param = err.get("param") if isinstance(err, dict) else None
        text = f"the backend refused the request (HTTP {exc.status_code}"
        text += f", {code})" if code else ")"
        text += f": {message}" + (f" [param: {param}]" if param else "")
        kind = SoraAuthenticationError if exc.status_code in (401, 403) else SoraAPIError
        return kind(text, status_code=exc.status_code, code=str(code) if code else None)
    if isinstance(exc, openai.APIConnectionError):
        return SoraConnectionError(f"could not reach the backend: {exc}")
    return SoraError(f"{type(exc).__name__}: {exc}")
