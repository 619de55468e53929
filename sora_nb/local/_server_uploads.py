"""Uploaded videos on the local server: source videos of edits and extensions (the spec's
``video`` as a file) and the characters endpoints (``POST /v1/videos/characters``,
``GET /v1/videos/characters/{character_id}``), as openai-python 3.x calls them
(src/openai/resources/videos.py: ``create_character``, ``get_character``, ``edit``, ``extend``)."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from aiohttp import web

from .._errors import SoraError
from .._ffmpeg import MediaInfo, probe
from .._params import SIZES
from ._server_errors import ApiError, invalid, missing
from ._server_params import API_DEFAULT_SIZE, Upload, read_body, reject_unknown
from ._server_store import JobStore

__all__ = ["create_character", "get_character", "save_video", "upload_source"]

#: Longest character name accepted (the spec gives none; a display name is short).
MAX_NAME_CHARS = 256


async def save_video(store: JobStore, upload: Upload, param: str) -> tuple[str, MediaInfo]:
    """Keep an uploaded video under ``uploads/`` and probe it (off the event loop);
    400 naming ``param`` unless it is a readable file with a video stream."""
    name = store.save_upload(upload.data, "mp4")
    path = store.uploads_dir / name
    try:
        info = await asyncio.to_thread(probe, path)
    except (SoraError, OSError) as exc:
        info = None
        reason = str(exc)
    if info is None or not info.has_video or not info.width or not info.height:
        if info is not None:
            reason = "it has no video stream"
        raise ApiError(400, f"Invalid '{param}': not a readable video file ({reason}).",
                       param=param, code="invalid_video")
    return name, info


async def upload_source(store: JobStore, upload: Upload) -> dict[str, Any]:
    """The job fields of an edit or extension whose source is an uploaded video: its size
    when it is one the API has, else the default of its orientation; its length in seconds."""
    name, info = await save_video(store, upload, "video")
    assert info.width is not None and info.height is not None  # checked by save_video
    size = f"{info.width}x{info.height}"
    if size not in SIZES:
        size = "1280x720" if info.width > info.height else API_DEFAULT_SIZE
    return dict(model="sora-2", size=size, seconds=str(max(1, round(info.duration))),
                source_upload=name)


def _character_api(character: dict[str, Any]) -> dict[str, Any]:
    # VideoCreateCharacterResponse / VideoGetCharacterResponse: id, created_at, name
    return {"id": character["id"], "created_at": int(character["created_at"]),
            "name": character["name"]}


async def create_character(store: JobStore, request: web.Request) -> web.Response:
    body = await read_body(request)
    reject_unknown(body, ("name", "video"))
    name = body.get("name")
    if name is None:
        raise missing("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise invalid("name", name, f"a non-empty display name of at most {MAX_NAME_CHARS} "
                      "characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("name", name, "valid Unicode text (it contains a lone surrogate)") from None
    video = body.get("video")
    if video is None:
        raise missing("video")
    if not isinstance(video, Upload) or not video.data:
        raise invalid("video", video, "an uploaded video file (multipart 'video')")
    file_name, _ = await save_video(store, video, "video")
    character = {"id": f"char_{secrets.token_hex(16)}", "created_at": time.time(),
                 "name": name, "video": file_name}
    store.add_character(character)
    return web.json_response(_character_api(character))


async def get_character(store: JobStore, request: web.Request) -> web.Response:
    character_id = request.match_info["character_id"]
    character = store.character(character_id)
    if character is None:
        raise ApiError(404, f"Character with id '{character_id}' not found.",
                       param="character_id", code="not_found")
    return web.json_response(_character_api(character))
