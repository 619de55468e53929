"""Showing a job and its media in a notebook: the job's mimebundle and HTML card, ``show()``,
and publishing media files (linked under ./sora_nb_media/, or embedded with ``embed=True``).

The markup itself is ``_display``'s (pure); this module does the file and display I/O."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._display import MediaKind, check_kind, check_width, data_uri, job_html, media_tag
from ._errors import SoraMediaError, SoraParameterError
from ._fs import atomic_path
from ._ids import inside, path_segment
from ._scrubber import SpriteScrubber
from ._store import cached_media
from ._types import VARIANTS, JobSnapshot, Variant, allowed
from ._widget import WIDGET_VIEW, JobCard, card_for, widgets_available

if TYPE_CHECKING:
    from ._job import SoraJob

__all__ = [
    "EMBED_WARN_BYTES",
    "INLINE_THUMBNAIL_BYTES",
    "MEDIA_DIR",
    "filter_bundle",
    "inline_thumbnail",
    "ipy_display",
    "job_card_html",
    "job_mimebundle",
    "media_html",
    "publish_media",
    "show_job",
    "show_media",
]

#: Folder, relative to the kernel's working directory (the notebook's folder in Jupyter),
#: that media is hard-linked into so the notebook server serves it under /files/.
MEDIA_DIR = "sora_nb_media"
#: Above this size ``embed=True`` warns: base64 in the notebook makes .ipynb files huge.
EMBED_WARN_BYTES = 10 * 1024 * 1024
#: Cached thumbnails up to this size are inlined in HTML cards and gallery tiles.
INLINE_THUMBNAIL_BYTES = 256 * 1024


# -- the job's display ------------------------------------------------------------------


def inline_thumbnail(video_id: str) -> str | None:
    """A data: URI of the job's cached thumbnail, if it was downloaded and is small."""
    thumb = cached_media(video_id, "thumbnail")
    if thumb is None or thumb.stat().st_size > INLINE_THUMBNAIL_BYTES:
        return None
    return data_uri(thumb.read_bytes(), thumb.suffix)


def job_card_html(job: SoraJob, snap: JobSnapshot | None = None) -> str:
    """The job's HTML card, with its thumbnail once completed and cached."""
    snap = snap or job.snapshot()
    thumb = inline_thumbnail(job.id) if snap.status == "completed" else None
    return job_html(snap, thumbnail_src=thumb)


def job_mimebundle(job: SoraJob, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The job's display: the live widget view where widgets render, plus an escaped HTML
    snapshot (shown by front ends without the widget manager, nbconvert, GitHub) and the
    short repr. Outside a kernel, or without ipywidgets, HTML and text only."""
    bundle: dict[str, Any] = {"text/plain": repr(job), "text/html": job_card_html(job)}
    if widgets_available():
        card = card_for(job)
        view = card.widget._repr_mimebundle_() or {}
        if WIDGET_VIEW in view:
            bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
    return filter_bundle(bundle, include, exclude)


def filter_bundle(bundle: dict[str, Any], include: Any, exclude: Any) -> dict[str, Any]:
    """``bundle`` with only the MIME types in ``include`` (if given), minus ``exclude``: the
    ``_repr_mimebundle_`` protocol's two arguments."""
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def _wait_with_html_card(job: SoraJob, min_interval: float = 0.2) -> None:
    """Without widgets: an HTML card displayed with a display_id and updated in place from
    the calling thread (never from the runtime thread) until the job settles."""
    changed = threading.Event()
    settled = threading.Event()
    latest: list[JobSnapshot] = [job.snapshot()]

    def observe(snap: JobSnapshot) -> None:
        latest[0] = snap
        if snap.terminal or snap.poll_state != "active":
            settled.set()
        changed.set()

    handle = ipy_display(
        {"text/html": job_card_html(job, latest[0]), "text/plain": repr(job)}, raw=True,
        display_id=True,
    )
    shown = latest[0]
    unsubscribe = job.on_progress(observe)
    try:
        while True:
            changed.wait()
            changed.clear()
            snap = latest[0]
            if snap != shown and handle is not None:
                handle.update({"text/html": job_card_html(job, snap), "text/plain": repr(job)},
                              raw=True)
                shown = snap
            if snap.terminal or snap.poll_state != "active":
                return
            settled.wait(min_interval)  # at most one update per min_interval, but no delay
            # for the final state: ``settled`` ends this pause at once
    finally:
        unsubscribe()


def show_job(job: SoraJob, variant: Variant = "video", embed: bool = False,
             width: int | None = None) -> None:
    """``job.show()``: if unfinished, display the live card and wait; then download the
    variant (cached) and display it: the video as a ``<video>`` element, the thumbnail as
    an image, the spritesheet as a frame scrubber (an image where widgets cannot render)."""
    if variant not in VARIANTS:
        raise SoraParameterError("variant", variant, allowed(VARIANTS))
    if not isinstance(embed, bool):
        raise SoraParameterError("embed", embed, "True or False")
    check_width(width)
    from IPython import get_ipython  # deferred: IPython is imported only to display

    widgets = widgets_available()
    if not job.done:
        if widgets:
            ipy_display(JobCard(job, media=False))
        elif get_ipython() is not None and getattr(get_ipython(), "kernel", None) is not None:
            _wait_with_html_card(job)
    job.wait()
    path = job.download(variant)
    if variant == "video":
        show_media(path, "video", embed=embed, width=width)
    elif variant == "thumbnail" or not widgets:
        show_media(path, "image", embed=embed, width=width)
    else:
        ipy_display(SpriteScrubber(path, aspect=_aspect(job.size), width=width))


def _aspect(size: str) -> float | None:
    try:
        w, h = (int(x) for x in size.lower().split("x"))
    except ValueError:
        return None
    return w / h if w > 0 and h > 0 else None


# -- media files ------------------------------------------------------------------------


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
    # one safe, bounded name (a long or odd file name is hashed), proven inside the folder
    suffix = src.suffix.lower() if re.fullmatch(r"\.[a-z0-9]{1,8}", src.suffix.lower()) else ""
    target = inside(root / MEDIA_DIR,
                    root / MEDIA_DIR / f"{path_segment(src.stem)}-{digest}{suffix}")
    if not target.exists():
        with atomic_path(target) as tmp:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
    return target.relative_to(root).as_posix()


def _embedded(p: Path) -> str:
    size = p.stat().st_size
    if size > EMBED_WARN_BYTES:
        warnings.warn(
            f"embedding {p.name} ({size / 1e6:.1f} MB) as base64 may make your notebook files "
            "huge; leave embed=False to link the file instead",
            UserWarning,
            stacklevel=3,
        )
    return data_uri(p.read_bytes(), p.suffix)


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
    kind = check_kind(kind)
    width = check_width(width)
    p = _media_file(path)
    src = _embedded(p) if embed else quote(publish_media(p))
    return media_tag(src, kind, p.name, width=width)


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
    from IPython import get_ipython  # deferred: IPython is imported only to display

    if get_ipython() is None:
        print(f"{kind}: {Path(path)}")
        return
    ipy_display({"text/html": markup, "text/plain": f"<{kind} {Path(path).name}>"}, raw=True)


def ipy_display(*objs: Any, **kwargs: Any) -> Any:
    """``IPython.display.display`` with a type (IPython ships it untyped). Call it only
    from the thread that runs the cell."""
    from IPython.display import display  # deferred: IPython is imported only to display

    return display(*objs, **kwargs)  # type: ignore[no-untyped-call]
