"""The Sora dialect, which every other dialect overrides: ``Dialect`` (the hooks
``ServerContext`` calls), ``Created`` and ``render_params``.

``sora`` (the default) is the server's own behaviour; ``_dialect_vllm``, ``_dialect_sglang``
and ``_dialect_gateway`` reproduce other servers, each rule citing the file it copies.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from ._server_errors import ApiError
from ._server_params import Body, CreateRequest, parse_create
from ._server_store import Job

__all__ = ["FPS", "OPERATIONS", "Created", "Dialect", "fastapi_detail", "render_params"]

#: Every operation of the Videos API, by route name (see ``build_app``).
OPERATIONS = frozenset({"create", "list", "retrieve", "delete", "content", "remix", "edit",
                        "extend", "characters"})
FPS = 24


@dataclass(frozen=True)
class Created:
    """A create request as a dialect read it: the common part, the extra ``Job`` fields
    (fps, seed, options) and the fingerprint that Idempotency-Key compares."""

    request: CreateRequest
    fields: dict[str, Any]
    fingerprint: str


def render_params(job: Job) -> dict[str, Any]:
    """``RenderSpec`` arguments that depend on the request's extension fields: frame rate,
    length (``num_frames`` wins over ``seconds``), seed and the details drawn on screen."""
    options = job.options or {}
    fps = job.fps or FPS
    frames = options.get("num_frames")
    seconds = frames / fps if isinstance(frames, int) else float(job.seconds)
    shown = [f"{name.replace('_', ' ')} {value}" for name, value in sorted(options.items())
             if name not in ("num_frames", "fps") and value is not None]
    return {"fps": fps, "seconds": seconds, "seed": job.seed, "details": " · ".join(shown)}


class Dialect:
    """The Sora API, as OpenAI documented it (the server's default behaviour)."""

    name: ClassVar[str] = "sora"
    operations: ClassVar[frozenset[str]] = OPERATIONS
    #: Sends ``openai-poll-after-ms`` while a job runs.
    poll_hints: ClassVar[bool] = True
    honours_idempotency: ClassVar[bool] = True
    #: Serves the thumbnail and spritesheet for ``?variant=``; if not, always the MP4.
    honours_variant: ClassVar[bool] = True
    #: Downloads carry ETag and Last-Modified.
    cache_headers: ClassVar[bool] = True

    def new_id(self, model: str) -> tuple[str, str | None]:
        """``(id, upstream id)`` of a new job; the upstream id only behind a gateway."""
        return f"video_{secrets.token_hex(24)}", None

    def parse_create(self, body: Body, *, form: bool) -> Created:
        """Read a create request (``form``: it came as multipart/urlencoded form data)."""
        req = parse_create(body)
        return Created(req, {}, req.fingerprint())

    def find(self, video_id: str, lookup: Callable[[str], Job | None]) -> Job | None:
        """The job ``video_id`` names (``lookup``: the store's), None if there is none."""
        return lookup(video_id)

    def video(self, job: Job, now: float, *, answer_to_create: bool = False) -> dict[str, Any]:
        body = job.to_api(now)
        if job.expired(now):
            # OpenAI documents expires_at but not the answer after it; the local server says
            # "expired" (a status clients meet through gateways, see DESIGN.md)
            body["status"] = "expired"
        return body

    def error(self, exc: ApiError, *, routing: bool = False) -> web.Response:
        return exc.response()

    def not_found(self, video_id: str, param: str | None = None) -> ApiError:
        return ApiError(404, f"Video with id '{video_id}' not found.", param=param,
                        code="not_found")

    def not_ready(self, job: Job, now: float) -> ApiError:
        reason = "failed; it has no content" if job.status == "failed" else (
            f"{job.status} ({job.progress(now)}%); wait until its status is completed")
        return ApiError(400, f"Video '{job.id}' is not ready: it is {reason}.",
                        code="video_not_ready")

    def expired(self, job: Job) -> ApiError:
        return ApiError(404, f"The assets of video '{job.id}' expired and were deleted.",
                        code="video_expired")

    def deleted(self, job: Job, now: float) -> dict[str, Any]:
        return {"id": job.id, "object": "video.deleted", "deleted": True}

    def list_page(self, page: dict[str, Any]) -> dict[str, Any]:
        return page

    def unsupported(self, operation: str) -> ApiError:
        """The answer to a route this server has but does not serve (gateway list)."""
        return ApiError(404, f"This server does not serve '{operation}'.", code="not_found")


def fastapi_detail(exc: ApiError) -> web.Response:
    """FastAPI's default error body."""
    return web.json_response({"detail": exc.message}, status=exc.status, headers=exc.headers)
