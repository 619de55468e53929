"""What a download must be: each variant's file kind, told by its first bytes (MP4 ``ftyp``
box, WebP ``RIFF....WEBP``, JPEG ``FF D8 FF``) and by ``Content-Type`` where the server sent one."""

from __future__ import annotations

from ._errors import SoraContentError
from ._types import Variant

__all__ = ["HEAD_BYTES", "KIND_OF_VARIANT", "check_content", "sniff"]

#: How many leading bytes ``sniff`` needs.
HEAD_BYTES = 16
#: The file kind each variant must be.
KIND_OF_VARIANT: dict[str, str] = {"video": "mp4", "thumbnail": "webp", "spritesheet": "jpeg"}
_MIME_KIND: dict[str, str] = {
    "video/mp4": "mp4",
    "video/quicktime": "mp4",  # an ISO-BMFF container with an ftyp box, as MP4
    "image/webp": "webp",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "text/html": "html",
    "application/json": "json",
    "text/plain": "text",
}
_NAMES = {"mp4": "an MP4 video", "webp": "a WebP image", "jpeg": "a JPEG image",
          "png": "a PNG image", "gif": "a GIF image", "html": "an HTML page",
          "json": "JSON text", "text": "text"}


def sniff(head: bytes) -> str | None:
    """The kind of file ``head`` (its first bytes) starts: ``mp4``, ``webp``, ``jpeg``,
    ``png``, ``gif``, ``html``, ``json`` or ``None`` when unrecognised."""
    if len(head) >= 8 and head[4:8] == b"ftyp":  # ISO/IEC 14496-12 4.3: the first box
        return "mp4"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    text = head.lstrip()[:1]
    if text == b"<":
        return "html"
    if text in (b"{", b"["):
        return "json"
    return None


def _mime_kind(content_type: str | None) -> str | None:
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    return _MIME_KIND.get(mime)  # octet-stream and the unknown say nothing either way


def check_content(head: bytes, variant: Variant, content_type: str | None, *,
                  server: str, video_id: str) -> None:
    """Raise ``SoraContentError`` unless ``head`` starts the file kind ``variant`` names and
    ``content_type`` (when given and specific) agrees."""
    wanted = KIND_OF_VARIANT[variant]
    found = sniff(head)
    declared = _mime_kind(content_type)
    if found == wanted and declared in (None, wanted):
        return
    what = _NAMES.get(found or "", "unrecognised bytes")
    if found == wanted:
        why = f"the bytes are {what} but Content-Type says {content_type!r}"
    else:
        why = f"it sent {what}" + (f" (Content-Type {content_type!r})" if content_type else "")
    raise SoraContentError(
        f"{server} answered the {variant} download of {video_id} with the wrong content: "
        f"{variant} must be {_NAMES[wanted]}, {why}; nothing was kept",
        variant=variant, server=server, found=found,
    )
