"""The SGLang dialect: SGLang Diffusion's subset of ``/v1/videos``
(python/sglang/multimodal_gen/runtime/entrypoints/openai/video_api.py and protocol.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from ._dialect_base import FPS, Created, Dialect, fastapi_detail
from ._dialect_fields import (
    MODEL_DEFAULT_SIZE,
    SIZE,
    check_renderable,
    fingerprint_of,
    form_float,
    form_int,
    form_str,
    image_ext,
)
from ._server_errors import ApiError, invalid
from ._server_params import Body, CreateRequest, Upload, prompt_of
from ._server_store import Job

__all__ = ["SGLang"]


class SGLang(Dialect):
    """SGLang Diffusion's subset of ``/v1/videos`` (``sglang serve --model-path ...``):
    python/sglang/multimodal_gen/runtime/entrypoints/openai/video_api.py and protocol.py."""

    name = "sglang"
    # the router has create, list, retrieve, delete and content: no remix (404), and
    # POST /v1/videos/edits|extensions match GET/DELETE /{video_id} (405)
    operations = frozenset({"create", "list", "retrieve", "delete", "content"})
    poll_hints = False
    honours_idempotency = False
    honours_variant = False  # download_video_content reads variant and ignores it

    def new_id(self, model: str) -> tuple[str, str | None]:
        # generate_request_id() (configs/sample/sampling_params.py): a uuid4
        return str(uuid.uuid4()), None

    def parse_create(self, body: Body, *, form: bool) -> Created:
        return _sglang_create(body, form)

    def video(self, job: Job, now: float, *, answer_to_create: bool = False) -> dict[str, Any]:
        # VideoResponse (protocol.py); progress 0 until _dispatch_job_async sets 100; a
        # failure sets only status and error {"message"}; file_path is the server's own path
        done = job.status == "completed"
        return {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": job.status,
            "progress": 100 if done else 0,
            "created_at": int(job.created_at),
            "size": job.size,
            "seconds": job.seconds,
            "quality": "standard",
            "url": None,
            "remixed_from_video_id": None,
            "completed_at": int(job.completed_at) if done and job.completed_at else None,
            "expires_at": None,
            "error": {"message": job.error_message or ""} if job.status == "failed" else None,
            "file_path": f"outputs/{job.id}.mp4",
            "peak_memory_mb": None,
            "inference_time_s": None,
        }

    def error(self, exc: ApiError, *, routing: bool = False) -> web.Response:
        return fastapi_detail(exc)  # HTTPException(detail=...) everywhere in video_api.py

    def not_found(self, video_id: str, param: str | None = None) -> ApiError:
        return ApiError(404, "Video not found")

    def not_ready(self, job: Job, now: float) -> ApiError:
        # download_video_content: no file yet (or ever, for a failed job)
        return ApiError(404, "Generation is still in-progress")

    def expired(self, job: Job) -> ApiError:
        return ApiError(404, "Generation is still in-progress")  # the file is gone

    def list_page(self, page: dict[str, Any]) -> dict[str, Any]:
        # VideoListResponse (protocol.py): data and object only, no cursors
        return {"data": page["data"], "object": "list"}

    def deleted(self, job: Job, now: float) -> dict[str, Any]:
        # delete_video pops the job and answers it with status "deleted" (no abort)
        return {**self.video(job, now), "status": "deleted"}


def _sglang_create(body: Body, form: bool) -> Created:
    """create_video (video_api.py): multipart needs prompt and an input_reference file (so
    the openai SDK, which always sends multipart, needs a reference image); JSON is
    VideoGenerationsRequest (extra_body merged in), seconds an int (default 4)."""
    if form and not isinstance(body.get("input_reference"), Upload):
        raise ApiError(400, "input_reference file is required")
    extra = body.pop("extra_body", None)
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError:
            extra = None
    if isinstance(extra, dict):
        body = {**body, **extra}
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        raise ApiError(400, "Invalid request body: prompt is required", param="prompt")
    prompt = prompt_of(body)
    seconds = form_int(body, "seconds", 1)
    fps = form_int(body, "fps", 1) or FPS
    num_frames = form_int(body, "num_frames", 1)
    seed = form_int(body, "seed")
    seed = 1024 if seed is None else seed  # VideoGenerationsRequest.seed defaults to 1024
    size = body.get("size") or MODEL_DEFAULT_SIZE
    if not isinstance(size, str) or not SIZE.match(size):
        raise invalid("size", size, "'WIDTHxHEIGHT', e.g. '1280x720'")
    check_renderable(size)
    frames = num_frames if num_frames is not None else fps * (seconds or 4)
    # _video_job_from_sampling: seconds = round(num_frames / fps); model = req.model or sora-2
    shown = str(round(frames / fps))
    model = body.get("model") if isinstance(body.get("model"), str) and body["model"] else "sora-2"
    reference, ext = None, None
    if isinstance(body.get("input_reference"), Upload):
        reference = body["input_reference"].data
        ext = image_ext(reference, "input_reference")
    options: dict[str, Any] = {"num_frames": frames if num_frames is not None else None,
                               "negative_prompt": form_str(body, "negative_prompt"),
                               "num_inference_steps": form_int(body, "num_inference_steps", 1),
                               "guidance_scale": form_float(body, "guidance_scale")}
    options = {k: v for k, v in options.items() if v is not None}
    req = CreateRequest(prompt, str(model), shown, size, reference, ext)
    fields = {"fps": fps, "seed": seed, "options": options or None}
    return Created(req, fields, fingerprint_of(req, fields))

