"""Pure rendering of job state and media to HTML: the escaped snapshot card, the one-line
text summary, the ETA estimate, and <video>/<img> markup served from ./sora_nb_media/."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from ._errors import SoraMediaError, SoraParameterError
from ._fs import atomic_path
from ._types import JobSnapshot

__all__ = [
    "EMBED_WARN_BYTES",
    "INDETERMINATE_CSS",
    "MEDIA_DIR",
    "eta",
    "format_seconds",
    "header_html",
    "ipy_display",
    "job_html",
    "job_text",
    "made_locally_text",
    "media_html",
    "publish_media",
    "show_media",
    "status_html",
]

MediaKind = Literal["video", "image"]

#: Folder, relative to the kernel's working directory (the notebook's folder in Jupyter),
#: that media is hard-linked into so the notebook server serves it under /files/.
MEDIA_DIR = "sora_nb_media"
#: Above this size ``embed=True`` warns: base64 in the notebook makes .ipynb files huge.
EMBED_WARN_BYTES = 10 * 1024 * 1024

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


def eta(history: Sequence[tuple[float, int]], *, window: float = 30.0) -> float | None:
    """Seconds left, from observed ``(time, progress%)`` pairs: the progress rate over the
    last ``window`` seconds, extrapolated to 100 from the last observation. ``None`` while
    there is no measurable rate (fewer than two points, no progress, or already at 100)."""
    if len(history) < 2:
        return None
    t_last, p_last = history[-1]
    if p_last >= 100:
        return None
    recent = [(t, p) for t, p in history if t >= t_last - window]
    t_first, p_first = recent[0] if len(recent) >= 2 else history[-2]
    if t_last <= t_first or p_last <= p_first:
        return None
    rate = (p_last - p_first) / (t_last - t_first)
    return (100 - p_last) / rate


def _snapshot_eta(snap: JobSnapshot) -> float | None:
    if snap.terminal:
        return None
    return snap.eta


def _percent(snap: JobSnapshot) -> str:
    return "progress not reported" if snap.progress is None else f"{snap.progress}%"


def made_locally_text(snap: JobSnapshot) -> str | None:
    """"thumbnail made from the video" (and the like) when sora_nb made stills itself."""
    if not snap.made_locally:
        return None
    return " and ".join(snap.made_locally) + " made from the video (the server has none)"


def job_text(snap: JobSnapshot) -> str:
    """One line: id, status, percent, model/size/seconds, backend, elapsed, ETA, prompt."""
    parts = [f"{snap.id} {snap.status} {_percent(snap)}"]
    parts.append(f"{snap.model} {snap.size} {snap.seconds}s")
    parts.append(snap.backend + (" (from cache)" if snap.from_cache else ""))
    parts.append(f"elapsed {format_seconds(snap.elapsed)}")
    remaining = _snapshot_eta(snap)
    if remaining is not None:
        parts.append(f"ETA {format_seconds(remaining)}")
    if snap.poll_state not in ("active", "done"):
        parts.append(f"polling {snap.poll_state}")
    if snap.error is not None:
        parts.append(f"[{snap.error.code}] {snap.error.message}")
    prompt = " ".join(snap.original_prompt.split())
    if len(prompt) > 60:
        prompt = prompt[:57] + "..."
    parts.append(repr(prompt))
    return " · ".join(parts)


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
    remaining = _snapshot_eta(snap)
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


# -- media ------------------------------------------------------------------------------


def _check_kind(kind: str) -> MediaKind:
    if kind not in ("video", "image"):
        raise SoraParameterError("kind", kind, "'video' or 'image'")
    return kind  # type: ignore[return-value]  # narrowed by the check above


def _check_width(width: int | None) -> int | None:
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
        raise SoraParameterError("width", width, "a positive number of pixels, or None")
    return width


def _media_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise SoraMediaError(f"no media file at {p}: download it first (job.download())")
    return p


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def publish_media(path: str | Path, base: str | Path | None = None) -> str:
    """Make ``path`` servable relative to ``base`` (default: the working directory, which
    is the notebook's folder in Jupyter) and return the relative URL path. Files already
    under ``base`` (and not in a hidden folder, which Jupyter refuses to serve) are used
    where they are; others are hard-linked (copied across devices) into ./sora_nb_media/
    under a name derived from the source path, size and mtime, so a re-run reuses it."""
    src = _media_file(path).resolve()
    root = Path(base if base is not None else Path.cwd()).resolve()
    try:
        rel = src.relative_to(root)
    except ValueError:
        rel = None
    if rel is not None and not _is_hidden(rel):
        return rel.as_posix()
    st = src.stat()
    digest = hashlib.sha1(f"{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:10]
    target = root / MEDIA_DIR / f"{src.stem}-{digest}{src.suffix.lower()}"
    if not target.exists():
        with atomic_path(target) as tmp:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
    return target.relative_to(root).as_posix()


def _data_uri(p: Path) -> str:
    size = p.stat().st_size
    if size > EMBED_WARN_BYTES:
        warnings.warn(
            f"embedding {p.name} ({size / 1e6:.1f} MB) as base64 may make your notebook files "
            "huge; leave embed=False to link the file instead",
            UserWarning,
            stacklevel=3,
        )
    mime = _MIME.get(p.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def media_html(
    path: str | Path,
    kind: MediaKind = "video",
    *,
    embed: bool = False,
    width: int | None = None,
) -> str:
    """``<video controls>`` (or ``<img>``) markup for a media file. By default the ``src``
    is a relative path under ./sora_nb_media/ (JupyterLab and Notebook 7 resolve relative
    ``src`` against the notebook's folder and serve it, also after reopening); the ``src``
    sits on the element itself because the untrusted-output sanitizer strips it from
    ``<source>``. ``embed=True`` inlines the bytes as base64 (warns above 10 MB)."""
    kind = _check_kind(kind)
    width = _check_width(width)
    p = _media_file(path)
    src = _data_uri(p) if embed else quote(publish_media(p))
    size_attr = f' width="{width}"' if width else ""
    style = "max-width:100%" if width is None else ""
    style_attr = f' style="{style}"' if style else ""
    if kind == "video":
        return (
            f'<video controls preload="metadata" src="{_e(src)}"{size_attr}{style_attr}>'
            f"Your browser cannot play {_e(p.name)}.</video>"
        )
    return f'<img src="{_e(src)}" alt="{_e(p.name)}"{size_attr}{style_attr}>'


def show_media(
    path: str | Path,
    kind: MediaKind = "video",
    *,
    embed: bool = False,
    width: int | None = None,
) -> None:
    """Display ``media_html(path, kind, ...)`` in the current cell (the calling thread);
    outside IPython, print the file path instead."""
    markup = media_html(path, kind, embed=embed, width=width)
    from IPython import get_ipython

    if get_ipython() is None:
        print(f"{kind}: {Path(path)}")
        return
    ipy_display({"text/html": markup, "text/plain": f"<{kind} {Path(path).name}>"}, raw=True)


def ipy_display(*objs: Any, **kwargs: Any) -> Any:
    """``IPython.display.display`` with a type (IPython ships it untyped). Call it only
    from the thread that runs the cell."""
    from IPython.display import display

    return display(*objs, **kwargs)  # type: ignore[no-untyped-call]
