"""Pure HTML rendering: the escaped job card (header, status, progress, thumbnail) and the
``<video>``/``<img>`` tag for a given ``src``. No I/O: files and display live in ``_show``."""

from __future__ import annotations

import base64
import html
from typing import Literal

from ._errors import SoraParameterError
from ._types import JobSnapshot

__all__ = [
    "INDETERMINATE_CSS",
    "MediaKind",
    "check_kind",
    "check_width",
    "data_uri",
    "format_seconds",
    "header_html",
    "job_html",
    "made_locally_text",
    "media_tag",
    "mime_type",
    "status_html",
]

MediaKind = Literal["video", "image"]

_STATUS_LABEL = {
    "queued": "queued",
    "in_progress": "in progress",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled on the server",
    "expired": "expired",
}
_STATUS_COLOR = {
    "queued": "#6e7781",
    "in_progress": "#0969da",
    "completed": "#1a7f37",
    "failed": "#cf222e",
    "cancelled": "#424a53",  # dark neutral grey: stopped, not broken
    "expired": "#bf8700",  # amber: the assets are gone
}
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
_BADGE = (
    "display:inline-block;padding:0 6px;border-radius:9px;font-size:11px;"
    "line-height:17px;color:#fff;background:{bg}"
)
_ERROR_COLOR = "#cf222e"


def _e(value: object) -> str:
    """HTML-escape anything (quotes too, so the result is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def format_seconds(seconds: float | None) -> str:
    """Compact human duration: ``4.2s``, ``42s``, ``3m 07s``, ``1h 02m``; ``—`` for None."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _percent(snap: JobSnapshot) -> str:
    return "progress not reported" if snap.progress is None else f"{snap.progress}%"


def made_locally_text(snap: JobSnapshot) -> str | None:
    """"thumbnail made from the video" (and the like) when sora_nb made stills itself."""
    if not snap.made_locally:
        return None
    return " and ".join(snap.made_locally) + " made from the video (the server has none)"


def _prompt_html(snap: JobSnapshot) -> str:
    original = f"<span>{_e(snap.original_prompt)}</span>"
    if not snap.enhanced:
        return original
    marker = (
        f'<span style="{_BADGE.format(bg="#8250df")};opacity:.85" '
        'title="added by enhance_prompt(); pass enhance=False to send your words only">'
        "enhanced</span>"
    )
    if snap.enhancement:
        added = (
            '<span class="sora-nb-enhancement" style="opacity:.55;font-style:italic">'
            f"{_e(snap.enhancement)}</span>"
        )
        return f"{original}{added} {marker}"
    sent = (
        '<div class="sora-nb-enhancement" style="opacity:.55;font-style:italic">'
        f"sent: {_e(snap.prompt)}</div>"
    )
    return f"{original} {marker}{sent}"


def _status_line(snap: JobSnapshot) -> str:
    color = _STATUS_COLOR.get(snap.status, "#6e7781")
    bits = [
        f'<b class="sora-nb-status" style="color:{color}">'
        f"{_e(_STATUS_LABEL.get(snap.status, snap.status))}</b>",
        _e(_percent(snap)),
        f"elapsed {_e(format_seconds(snap.elapsed))}",
    ]
    remaining = None if snap.terminal else snap.eta
    if remaining is not None:
        bits.append(f"ETA {_e(format_seconds(remaining))}")
    if snap.poll_state not in ("active", "done"):
        bits.append(f"polling {_e(snap.poll_state)}")
    return " · ".join(bits)


def header_html(snap: JobSnapshot) -> str:
    """The card's head: backend badge, model, size, seconds, job id, "from cache", and the
    prompt with the part prompt enhancement added visibly marked. All escaped."""
    meta = [
        f'<span class="sora-nb-backend" style="{_BADGE.format(bg="#57606a")}">'
        f"{_e(snap.backend)}</span>",
        f"<span>{_e(snap.model)}</span>",
        f"<span>{_e(snap.size)}</span>",
        f"<span>{_e(snap.seconds)}s</span>",
        f'<code class="sora-nb-id" style="font-size:11px">{_e(snap.id)}</code>',
    ]
    if snap.from_cache:
        meta.append(
            f'<span class="sora-nb-cache" style="{_BADGE.format(bg="#9a6700")}" '
            'title="reused from the local journal: an identical request was made before">'
            "from cache</span>"
        )
    if snap.remixed_from:
        meta.append(f"<span>from <code>{_e(snap.remixed_from)}</code></span>")
    return (
        '<div style="display:flex;flex-wrap:wrap;gap:6px;align-items:center;'
        'font-size:12px;opacity:.9">' + " ".join(meta) + "</div>"
        f'<div class="sora-nb-prompt" style="margin:6px 0;font-size:13px;line-height:1.45">'
        f"{_prompt_html(snap)}</div>"
    )


def status_html(snap: JobSnapshot) -> str:
    """Status, percent, elapsed and ETA; then the server's error (red) and any note."""
    rows = [f'<div style="font-size:12px">{_status_line(snap)}</div>']
    if snap.error is not None:
        rows.append(
            f'<div class="sora-nb-error" style="color:{_ERROR_COLOR};font-size:12px;'
            f'margin-top:2px"><b>[{_e(snap.error.code)}]</b> {_e(snap.error.message)}</div>'
        )
    for line in (snap.note, made_locally_text(snap)):
        if line:
            rows.append(f'<div style="font-size:12px;opacity:.75">{_e(line)}</div>')
    return "".join(rows)


def job_html(snap: JobSnapshot, thumbnail_src: str | None = None) -> str:
    """A self-contained card for ``snap`` (inline CSS, no script). Every string that comes
    from a user or a server is escaped. ``thumbnail_src`` (a URL or data: URI) is shown
    once the job is completed."""
    color = _STATUS_COLOR.get(snap.status, "#6e7781")
    parts = [
        header_html(snap),
        # no value attribute: the browser's own indeterminate (animated) bar
        f'<progress max="100"{_value_attr(snap)} '
        f'style="width:100%;height:12px;accent-color:{color}"></progress>',
        status_html(snap),
    ]
    if thumbnail_src and snap.status == "completed":
        parts.append(
            f'<img class="sora-nb-thumb" src="{_e(thumbnail_src)}" alt="thumbnail of '
            f'{_e(snap.id)}" style="max-width:100%;margin-top:6px;border-radius:4px">'
        )
    return (
        f'<div class="sora-nb-card" data-status="{_e(snap.status)}" '
        'style="border:1px solid rgba(127,127,127,.35);border-radius:8px;'
        f"border-left:4px solid {color};padding:8px 12px;max-width:640px;"
        'font-family:system-ui,-apple-system,Segoe UI,sans-serif">' + "".join(parts) + "</div>"
    )


def _value_attr(snap: JobSnapshot) -> str:
    if snap.progress is None and not snap.terminal:
        return ""
    return f' value="{int(snap.progress or 0)}"'


#: Stripes that move, for an ipywidgets bar whose job reports no progress (``IntProgress``
#: has no indeterminate state): the card adds the ``sora-nb-indeterminate`` class to it.
INDETERMINATE_CSS = (
    "<style>.sora-nb-indeterminate .progress-bar{background-image:repeating-linear-gradient("
    "-45deg,rgba(255,255,255,.35) 0 10px,transparent 10px 20px);background-size:28px 28px;"
    "animation:sora-nb-stripes 1s linear infinite}"
    "@keyframes sora-nb-stripes{from{background-position:0 0}to{background-position:28px 0}}"
    "</style>"
)



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


def media_tag(src: str, kind: MediaKind, name: str, *, width: int | None = None) -> str:
    """``<video controls>`` (or ``<img>``) markup for ``src`` (a relative URL or a data:
    URI), ``name`` naming the file in the fallback text. The ``src`` sits on the element
    itself because the untrusted-output sanitizer strips it from ``<source>``."""
    kind = check_kind(kind)
    width = check_width(width)
    size_attr = f' width="{width}"' if width else ""
    style_attr = ' style="max-width:100%"' if width is None else ""
    if kind == "video":
        return (
            f'<video controls preload="metadata" src="{_e(src)}"{size_attr}{style_attr}>'
            f"Your browser cannot play {_e(name)}.</video>"
        )
    return f'<img src="{_e(src)}" alt="{_e(name)}"{size_attr}{style_attr}>'
