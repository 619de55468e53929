"""Ids are data, never paths: ``check_server_id`` and ``check_user_id`` refuse ids shaped
like paths (or too long to be real), and ``path_segment`` turns any id into one safe,
bounded folder or file name; ``inside`` proves a path stays under its root."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import quote

from ._errors import SoraParameterError, SoraProtocolError

__all__ = [
    "ID_ALLOWED",
    "MAX_ID_CHARS",
    "check_server_id",
    "check_user_id",
    "id_problem",
    "inside",
    "path_segment",
    "url_segment",
]

#: The longest id accepted. Real ids: OpenAI ``video_<hex>`` (~40 characters), vLLM-Omni
#: ``video_gen_<hex>`` (42), LiteLLM ``video_`` + base64 of provider, model, upstream id and
#: deployment (266, measured; litellm/videos/utils.py ``encode_video_id_with_provider``).
#: 1 kB leaves room for a gateway in front of a gateway and refuses a 10 kB id.
MAX_ID_CHARS = 1024
ID_ALLOWED = (
    f"an opaque id of 1 to {MAX_ID_CHARS} printable ASCII characters, not shaped like a "
    "path (no '\\', no leading '/', no '.' or '..' segment)"
)
#: A segment the openai SDK refuses to put in a URL (``openai/_utils/_path.py``
#: ``_DOT_SEGMENT_RE``: '.' or '..', each dot literal or percent-encoded).
_DOT_SEGMENT = re.compile(r"^(?:\.|%2[eE]){1,2}$")
#: Ids made only of these characters (and short) are used as folder names unchanged, so
#: OpenAI's, vLLM-Omni's and the embedded backend's ids keep today's cache layout.
_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
#: Device names Windows refuses as file names, whatever the extension.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_PREFIX_CHARS = 40


def id_problem(value: object) -> str | None:
    """Why ``value`` cannot be a job id, or ``None`` when it can. Base64 ids (``+``, ``/``,
    ``=``) pass: an id is sent as a percent-encoded URL segment and never used as a path."""
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a string"
    if not value:
        return "it is empty"
    if len(value) > MAX_ID_CHARS:
        return f"it has {len(value):,} characters (at most {MAX_ID_CHARS:,})"
    if any(not "\x21" <= ch <= "\x7e" for ch in value):
        return "it holds a space, control (e.g. NUL) or non-ASCII character"
    if "\\" in value:
        return "it holds a backslash"
    if value.startswith("/"):
        return "it starts with '/'"
    if any(_DOT_SEGMENT.match(part) for part in value.split("/")):
        return "it holds a '.' or '..' path segment"
    return None


def check_server_id(value: object, *, server: str, field: str = "id") -> str:
    """``value`` if a server may have sent it as a job id; else ``SoraProtocolError``
    (raised before any path or URL is built from it)."""
    problem = id_problem(value)
    if problem is not None:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise SoraProtocolError(
            f"{server} answered with an unusable {field} {shown}: {problem}; sora_nb "
            f"refuses ids shaped like paths and wrote nothing from this one"
        )
    assert isinstance(value, str)
    return value


def check_user_id(value: object, *, param: str = "video_id") -> str:
    """``value`` if a user may pass it as a job id; else ``SoraParameterError(param, ...)``."""
    problem = id_problem(value)
    if problem is not None:
        raise SoraParameterError(param, value, ID_ALLOWED, detail=problem)
    assert isinstance(value, str)
    return value


def path_segment(video_id: str) -> str:
    """One safe, bounded file or folder name for ``video_id``: the id itself when it is
    short and made of ``[A-Za-z0-9_-]`` only, else a readable prefix of its safe characters,
    a ``.`` and 16 hex digits of its sha256 (the ``.`` never occurs in an id used as is, so
    two different ids never share a name)."""
    if _PLAIN.fullmatch(video_id) and video_id.upper() not in _RESERVED:
        return video_id
    digest = hashlib.sha256(video_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    prefix = _UNSAFE_CHARS.sub("", video_id)[:_PREFIX_CHARS] or "id"
    return f"{prefix}.{digest}"


def url_segment(video_id: str) -> str:
    """``video_id`` percent-encoded as one URL path segment (``/`` included), as the openai
    SDK's ``path_template`` does (``openai/_utils/_path.py``)."""
    return quote(video_id, safe="!$&'()*+,;=:@")


def inside(root: Path, path: Path) -> Path:
    """``path`` if it resolves to somewhere under ``root`` (symlinks followed); else
    ``SoraProtocolError``. The last line of defence before writing or deleting."""
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise SoraProtocolError(
            f"refusing to touch {path}: it is outside sora_nb's folder {root}"
        )
    return path
