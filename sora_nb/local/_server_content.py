"""Downloads of the local server: which file ``GET /v1/videos/{id}/content`` sends (the
variant, readiness, expiry), the ``Range`` checks, and the response with or without cache
headers, as the server's dialect answers."""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

from .._types import VARIANTS
from ._dialect_base import Dialect
from ._server_errors import ApiError, invalid, quoted
from ._server_store import Job, JobStore

__all__ = ["CONTENT_TYPES", "content_response"]

CONTENT_TYPES = {".mp4": "video/mp4", ".webp": "image/webp", ".jpg": "image/jpeg",
                 ".jpeg": "image/jpeg", ".png": "image/png"}


async def content_response(request: web.Request, job: Job, dialect: Dialect,
                           store: JobStore) -> web.StreamResponse:
    """The answer to a download of ``job``'s asset (``?variant=``, default the MP4)."""
    variant = request.query.get("variant", "video")
    if not dialect.honours_variant:
        variant = "video"  # the server has one file per job and ignores the parameter
    if variant not in VARIANTS:
        raise invalid("variant", variant, quoted(VARIANTS))
    now = time.time()
    if job.status != "completed" or job.render_key is None:
        raise dialect.not_ready(job, now)
    if job.expired(now):
        raise dialect.expired(job)
    files = store.render_files(job.render_key)
    if files is None:
        raise ApiError(404, f"The assets of video '{job.id}' are no longer on disk.",
                       code="not_found")
    path = files.variant(variant)
    ctype = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    unsatisfiable = _unsatisfiable_range(request, path.stat())
    if unsatisfiable is not None:
        raise ApiError(416, unsatisfiable, param="Range", code="range_not_satisfiable",
                       headers={"Content-Range": f"bytes */{path.stat().st_size}"})
    if not dialect.cache_headers:  # FileResponse would add ETag and Last-Modified
        return web.Response(body=await asyncio.to_thread(path.read_bytes),
                            headers={"Content-Type": ctype})
    return web.FileResponse(path, headers={"Content-Type": ctype})


def _unsatisfiable_range(request: web.Request, stat: os.stat_result) -> str | None:
    """Why the ``Range`` header cannot be served, or None. The same rules as aiohttp's
    FileResponse (aiohttp/web_fileresponse.py, ``_prepare_open_file``), checked before it
    runs so the 416 comes in the JSON envelope instead of an empty body labelled video/mp4."""
    if "Range" not in request.headers:
        return None
    if_range = request.if_range
    if if_range is not None and stat.st_mtime > if_range.timestamp():
        return None  # the Range is ignored: the whole file is sent
    try:
        rng = request.http_range
    except ValueError:
        return f"Malformed Range header {_shown(request.headers['Range'])}."
    start, end = rng.start, rng.stop
    if start is None or (start < 0 and end is None):
        return None
    if start >= stat.st_size:
        return (f"Range {_shown(request.headers['Range'])} starts beyond the end of the "
                f"file ({stat.st_size} bytes).")
    return None


def _shown(text: str, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
