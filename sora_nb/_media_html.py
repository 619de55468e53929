"""Pure HTML of one media file: the ``<video controls>``/``<img>`` tag for a ``src`` (a
relative URL or a ``data:`` URI), the file's MIME type and ``data:`` URI, and the checks of
the ``kind`` and ``width`` a caller asks for. No I/O: publishing the file is ``_show``'s."""

from __future__ import annotations

import base64
import html
from typing import Literal

from ._errors import SoraParameterError

__all__ = [
    "MEDIA_MAX_WIDTH",
    "MediaKind",
    "check_kind",
    "check_width",
    "data_uri",
    "media_tag",
    "mime_type",
]

MediaKind = Literal["video", "image"]

_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def _e(value: object) -> str:
    """HTML-escape anything (quotes too, so the result is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def check_kind(kind: str) -> MediaKind:
    """``kind`` if it is ``"video"`` or ``"image"``; else a ``SoraParameterError``."""
    if kind not in ("video", "image"):
        raise SoraParameterError("kind", kind, "'video' or 'image'")
    return kind  # type: ignore[return-value]  # narrowed by the check above


def check_width(width: int | None) -> int | None:
    """``width`` if it is ``None`` or a positive int; else a ``SoraParameterError``."""
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
        raise SoraParameterError("width", width, "a positive number of pixels, or None")
    return width


def mime_type(suffix: str) -> str:
    """The MIME type of a media file suffix such as ``.mp4`` (octet-stream if unknown)."""
    return _MIME.get(suffix.lower(), "application/octet-stream")


def data_uri(data: bytes, suffix: str) -> str:
    """``data:`` URI of ``data``, a file with ``suffix``, for a ``src`` attribute."""
    return f"data:{mime_type(suffix)};base64,{base64.b64encode(data).decode('ascii')}"


#: The width a video or image shows at unless ``width=`` says otherwise: the card's, so a
#: job's card and its ``show()`` player line up.
MEDIA_MAX_WIDTH = 640


def media_tag(src: str, kind: MediaKind, name: str, *, width: int | None = None,
              poster: str | None = None) -> str:
    """``<video controls>`` (or ``<img>``) markup for ``src`` (a relative URL or a data:
    URI), ``name`` naming the file in the fallback text, ``poster`` the still a video shows
    before it plays. The ``src`` sits on the element itself because the untrusted-output
    sanitizer strips it from ``<source>``."""
    kind = check_kind(kind)
    width = check_width(width)
    size_attr = f' width="{width}"' if width else ""
    style_attr = (f' style="width:100%;max-width:{MEDIA_MAX_WIDTH}px;border-radius:6px"'
                  if width is None else "")
    if kind == "video":
        poster_attr = f' poster="{_e(poster)}"' if poster else ""
        return (
            f'<video controls preload="metadata" src="{_e(src)}"{poster_attr}{size_attr}'
            f"{style_attr}>Your browser cannot play {_e(name)}.</video>"
        )
    return f'<img src="{_e(src)}" alt="{_e(name)}"{size_attr}{style_attr}>'
