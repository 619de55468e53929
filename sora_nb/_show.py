"""Showing a job and its media in a notebook: the job's mimebundle and HTML card, ``show()``,
and publishing media files (linked under ./sora_nb_media/, or embedded with ``embed=True``).

The markup itself is ``_display``'s and ``_media_html``'s (pure); this module does the file
and display I/O."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._display import CardMedia, card_html
from ._errors import SoraError, SoraMediaError, SoraParameterError
from ._fs import atomic_path
from ._ids import inside, path_segment
from ._media_html import MediaKind, check_kind, check_width, data_uri, media_tag
from ._outputs import filter_bundle, ipy_display, static_bundle
from ._scrubber import sprite_grid, sprite_html
from ._store import cached_media
from ._types import VARIANTS, JobSnapshot, Variant, allowed
from ._widget import JobCard, card_for, shown_card

if TYPE_CHECKING:
    from ._job import SoraJob

__all__ = [
    "EMBED_WARN_BYTES",
    "INLINE_THUMBNAIL_BYTES",
    "MEDIA_DIR",
    "display_job",
    "inline_thumbnail",
    "job_card_html",
    "job_mimebundle",
    "media_html",
    "poster_uri",
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


def poster_uri(path: Path, width: int) -> str | None:
    """A still as a JPEG data URI at most ``width`` pixels wide (a few kB), or None if it
    cannot be read. Posters go inline because JupyterLab resolves a relative ``src`` or
    ``href`` in an output against the notebook's folder, but not a ``poster``."""
    import base64  # deferred: only posters need them
    import io

    try:
        from PIL import Image  # deferred: Pillow only when a poster is made

        with Image.open(path) as img:
            rgb = img.convert("RGB")
            rgb.thumbnail((width, width * 4))
            buf = io.BytesIO()
            rgb.save(buf, format="JPEG", quality=72, optimize=True)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def job_card_html(job: SoraJob, snap: JobSnapshot | None = None) -> str:
    """The job's HTML card (``_repr_html_``), with its poster once completed and cached."""
    snap = snap or job.snapshot()
    thumb = inline_thumbnail(job.id) if snap.status == "completed" else None
    return card_html(snap, CardMedia(poster=thumb) if thumb else None)


def display_job(job: SoraJob) -> None:
    """``display(job)``: in a kernel, the job's card with a display id (live, then static
    once final); elsewhere the static HTML card and the repr."""
    from ._config import in_kernel  # deferred: _config starts nothing, but keeps _show light

    if in_kernel():
        card_for(job).display()
    else:
        ipy_display(static_bundle(job_card_html(job), repr(job)), raw=True)


def job_mimebundle(job: SoraJob, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The job's bundle where display ids do not apply (a plain ``_repr_mimebundle_`` call):
    in a kernel the card's current one, else the static HTML card and the repr."""
    from ._config import in_kernel  # deferred: _config starts nothing, but keeps _show light

    bundle = card_for(job).bundle() if in_kernel() else static_bundle(job_card_html(job),
                                                                       repr(job))
    return filter_bundle(bundle, include, exclude)


def show_job(job: SoraJob, variant: Variant = "video", embed: bool = False,
             width: int | None = None) -> None:
    """``job.show()``: if unfinished, a card of its own while waiting (it turns static like
    any card); then the variant (cached download): the video as a ``<video>`` element, the
    thumbnail as an image, the spritesheet as a frame scrubber (an image where widgets
    cannot render).

    One player per job in view: when the job's card is displayed, ``show("video")``
    takes the player over and the card keeps its poster ("played by job.show() below")."""
    if variant not in VARIANTS:
        raise SoraParameterError("variant", variant, allowed(VARIANTS))
    if not isinstance(embed, bool):
        raise SoraParameterError("embed", embed, "True or False")
    check_width(width)
    from ._config import in_kernel  # deferred: _config starts nothing, but keeps _show light

    if not job.done and in_kernel():
        JobCard(job, fetch_media=False).display()
    job.wait()
    path = job.download(variant)
    if variant == "video":
        card = shown_card(job)
        if card is not None:
            card.give_player_away()
        try:  # the thumbnail as poster: no empty black box before it plays
            still: Path | None = job.download("thumbnail")
        except SoraError:
            still = None
        show_media(path, "video", embed=embed, width=width, poster=still)
    elif variant == "thumbnail":
        show_media(path, "image", embed=embed, width=width)
    else:
        show_spritesheet(path, aspect=_aspect(job.size), embed=embed, width=width)


def show_spritesheet(path: Path, *, aspect: float | None = None, embed: bool = False,
                     width: int | None = None) -> None:
    """Display a spritesheet as a scrubber in plain HTML (it outlives the kernel); outside
    IPython, print the file path."""
    from IPython import get_ipython  # deferred: IPython is imported only to display

    if get_ipython() is None:
        print(f"spritesheet: {path}")
        return
    from PIL import Image  # deferred: Pillow only when a spritesheet is shown

    with Image.open(path) as sheet:
        cols, rows = sprite_grid(sheet, aspect)
    src = _embedded(path) if embed else quote(publish_media(path))
    uid = hashlib.sha1(src.encode()).hexdigest()[:8]
    markup = sprite_html(src, cols, rows, aspect=aspect, uid=uid, width=width)
    ipy_display({"text/html": markup, "text/plain": f"<spritesheet {path.name}: "
                 f"{cols}x{rows} frames>"}, raw=True)


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
    poster: str | Path | None = None,
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
    still = None
    if poster is not None and kind == "video":
        still = _embedded(_media_file(poster)) if embed else quote(publish_media(poster))
    return media_tag(src, kind, p.name, width=width, poster=still)


def show_media(
    path: str | Path,
    kind: MediaKind = "video",
    *,
    embed: bool = False,
    width: int | None = None,
    poster: str | Path | None = None,
) -> None:
    """Display ``media_html(path, kind, ...)`` in the current cell (the calling thread);
    outside IPython, print the file path instead."""
    markup = media_html(path, kind, embed=embed, width=width, poster=poster)
    from IPython import get_ipython  # deferred: IPython is imported only to display

    if get_ipython() is None:
        print(f"{kind}: {Path(path)}")
        return
    ipy_display({"text/html": markup, "text/plain": f"<{kind} {Path(path).name}>"}, raw=True)
