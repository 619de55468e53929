"""The vLLM-Omni dialect: ``/v1/videos`` as ``vllm serve <model> --omni`` answers it
(vllm_omni/entrypoints/openai/api_server.py and protocol/videos.py)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from http import HTTPStatus
from typing import Any

from aiohttp import web

from ._dialect_base import FPS, Created, Dialect, fastapi_detail
from ._dialect_fields import (
    MODEL_DEFAULT_SIZE,
    SIZE,
    check_renderable,
    fingerprint_of,
    form_bool,
    form_float,
    form_int,
    form_json,
    form_str,
    image_ext,
)
from ._server_errors import ApiError, invalid
from ._server_params import Body, CreateRequest, Upload, prompt_of
from ._server_store import Job

__all__ = ["VLLM_OMNI_MODEL", "VllmOmni"]

#: What the emulated vLLM-Omni serves (the model is chosen when the server starts).
VLLM_OMNI_MODEL = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
_SECONDS = re.compile(r"^[1-9]\d*$")  # SecondStr, vllm_omni/entrypoints/openai/protocol/videos.py


class VllmOmni(Dialect):
    """vLLM-Omni's ``/v1/videos`` (``vllm serve <model> --omni``)."""

    name = "vllm-omni"
    # api_server.py registers create, list, retrieve, delete and content only: a remix is
    # a 404 and POST /v1/videos/edits|extensions a 405 (the path matches GET/DELETE
    # /v1/videos/{video_id}); both come from the router.
    operations = frozenset({"create", "list", "retrieve", "delete", "content"})
    poll_hints = False
    honours_idempotency = False
    # download_video returns the stored MP4 whatever the query (api_server.py)
    honours_variant = False

    def new_id(self, model: str) -> tuple[str, str | None]:
        # VideoResponse.id: f"video_gen_{uuid.uuid4().hex}" (protocol/videos.py)
        return f"video_gen_{uuid.uuid4().hex}", None

    def parse_create(self, body: Body, *, form: bool) -> Created:
        # The fields of create_video (api_server.py) and VideoGenerationRequest
        # (protocol/videos.py); unknown fields are ignored as FastAPI/pydantic ignore them.
        prompt = prompt_of(body)
        model = form_str(body, "model") or VLLM_OMNI_MODEL
        seconds = body.get("seconds")
        if seconds is not None and (not isinstance(seconds, str) or not _SECONDS.match(seconds)):
            raise invalid("seconds", seconds, "a positive whole number of seconds as a string")
        size = body.get("size")
        if size is not None and (not isinstance(size, str) or not SIZE.match(size)):
            raise invalid("size", size, "'WIDTHxHEIGHT', e.g. '1280x720'")
        width, height = form_int(body, "width", 1), form_int(body, "height", 1)
        fps = form_int(body, "fps", 1)
        num_frames = form_int(body, "num_frames", 1)
        options: dict[str, Any] = {
            "negative_prompt": form_str(body, "negative_prompt"),
            "num_inference_steps": form_int(body, "num_inference_steps", 1, 200),
            "guidance_scale": form_float(body, "guidance_scale", 0.0, 20.0),
            "guidance_scale_2": form_float(body, "guidance_scale_2", 0.0, 20.0),
            "true_cfg_scale": form_float(body, "true_cfg_scale", 0.0, 20.0),
            "boundary_ratio": form_float(body, "boundary_ratio", 0.0, 1.0),
            "flow_shift": form_float(body, "flow_shift"),
            "generate_sound": form_bool(body, "generate_sound") or None,
            "sound_duration": form_float(body, "sound_duration", 0.0),
            "lora": form_json(body, "lora"),
            "extra_params": form_json(body, "extra_params"),
            "num_frames": num_frames,
        }
        seed = form_int(body, "seed")
        # resolve_video_params: size wins over width/height; fps defaults to 24; frames are
        # seconds * fps unless num_frames is given
        if size is None and width and height:
            size = f"{width}x{height}"
        if seconds is None and num_frames is not None:
            seconds_shown = str(max(1, round(num_frames / (fps or FPS))))
        else:
            seconds_shown = seconds or "4"  # VideoResponse.seconds defaults to "4"
        reference, ext = _vllm_reference(body)
        render_size = size or MODEL_DEFAULT_SIZE
        check_renderable(render_size)
        req = CreateRequest(prompt, model, seconds_shown, render_size, reference, ext)
        options = {k: v for k, v in options.items() if v is not None}
        fields = {"fps": fps, "seed": seed, "options": options or None,
                  "size_shown": size}
        return Created(req, fields, fingerprint_of(req, fields))

    def video(self, job: Job, now: float, *, answer_to_create: bool = False) -> dict[str, Any]:
        # VideoResponse (protocol/videos.py): the served model, not the requested one
        # (create_video logs a mismatch and uses the server's model); size as requested
        # (null when none was); quality "default"; media_type, file_name, expires_at,
        # inference_time_s, stage_durations, peak_memory_mb. Progress is 0 until the job
        # completes (the only update is progress=100 in _run_video_generation_job).
        done = job.status == "completed"
        error = None
        if job.status == "failed":
            error = {"code": job.error_code or "RuntimeError", "message": job.error_message or ""}
        expires_at = None
        if job.expire_after is not None and job.completed_at is not None:
            expires_at = int(job.completed_at + job.expire_after)
        return {
            "model": VLLM_OMNI_MODEL,
            "prompt": job.prompt,
            "id": job.id,
            "object": "video",
            "status": job.status,
            "size": job.size_shown,
            "progress": 100 if done else 0,
            "seconds": job.seconds,
            "quality": "default",
            "completed_at": int(job.completed_at) if job.completed_at is not None else None,
            "created_at": int(job.created_at),
            "remixed_from_video_id": None,
            "error": error,
            "media_type": "video/mp4",
            "expires_at": expires_at,
            "file_name": f"{job.id}.mp4" if done else None,
            "inference_time_s": (job.completed_at - job.created_at
                                 if job.completed_at is not None else None),
            "stage_durations": {},
            "peak_memory_mb": 0.0,
        }

    def error(self, exc: ApiError, *, routing: bool = False) -> web.Response:
        if routing:  # Starlette's router: {"detail": "Not Found" | "Method Not Allowed"}
            return fastapi_detail(exc)
        if exc.status == 401:
            # vLLM's --api-key middleware (vllm/entrypoints/openai/api_server.py)
            return web.json_response({"error": "Unauthorized"}, status=401)
        # vLLM's HTTPException / validation handlers answer an ErrorResponse whose type is
        # the status phrase and whose code is the status (vllm/entrypoints/openai/api_server.py)
        phrase = HTTPStatus(exc.status).phrase
        body = {"error": {"message": exc.message, "type": phrase, "param": exc.param,
                          "code": exc.status}}
        return web.json_response(body, status=exc.status)

    def not_found(self, video_id: str, param: str | None = None) -> ApiError:
        return ApiError(404, "Video not found")  # retrieve_video (api_server.py)

    def not_ready(self, job: Job, now: float) -> ApiError:
        # download_video (api_server.py): 422 for a failed job, 404 while there is no file
        if job.status == "failed":
            return ApiError(422, "Video generation failed. Check job status for error details.")
        return ApiError(404, "Generation is still in-progress")

    def expired(self, job: Job) -> ApiError:
        # no "expired" status: the stored file is gone (download_video, api_server.py)
        return ApiError(404, "Generated video file not found on disk")


def _vllm_reference(body: Body) -> tuple[bytes | None, str | None]:
    """``input_reference`` (an upload) or ``image_reference`` (JSON ``image_url`` | ``file_id``),
    never both (create_video, api_server.py)."""
    upload = body.get("input_reference")
    reference = form_json(body, "image_reference")
    if upload is not None and reference is not None:
        raise ApiError(400, "Provide either input_reference or image_reference, not both.",
                       param="image_reference")
    if upload is not None:
        if not isinstance(upload, Upload):
            raise invalid("input_reference", upload, "an uploaded image file")
        return upload.data, image_ext(upload.data, "input_reference")
    if reference is None:
        return None, None
    if set(reference) == {"file_id"}:
        # docs/serving/videos_api.md: "file_id references are not implemented yet"
        raise invalid("image_reference", reference, "{'image_url': 'data:image/...;base64,...'}"
                      " (file_id references are not implemented)")
    if set(reference) != {"image_url"} or not isinstance(reference["image_url"], str):
        # UrlImageReference / FileImageReference forbid extra keys (protocol/videos.py)
        raise invalid("image_reference", reference,
                      "{'image_url': '...'} or {'file_id': '...'}")
    data = _data_url(reference["image_url"], "image_reference")
    return data, image_ext(data, "image_reference")


def _data_url(url: str, param: str) -> bytes:
    head, sep, payload = url.partition(",")
    if url.startswith("data:") and sep and head.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(param, head + ",...", "valid base64 data") from None
    raise invalid(param, url[:60], "a base64 data URL (the local server fetches no remote URLs)")

