"""Dialects of the local server: what vLLM-Omni, SGLang and a LiteLLM gateway answer where
they differ from the Sora API (ids, request fields, routes, response fields, errors, headers).

Each rule cites the file it reproduces. ``sora`` (the default) is the server's own behaviour;
the others override the hooks of ``Dialect`` that ``ServerContext`` calls.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from aiohttp import web

from ._server_params import (
    ApiError,
    Body,
    CreateRequest,
    Upload,
    invalid,
    parse_create,
    prompt_of,
)
from ._server_store import Job

__all__ = ["DIALECTS", "Created", "Dialect", "ProxyError", "dialect_named", "render_params"]

DIALECTS: tuple[str, ...] = ("sora", "vllm-omni", "sglang", "gateway")
#: Every operation of the Videos API, by route name (see ``build_app``).
OPERATIONS = frozenset({"create", "list", "retrieve", "delete", "content", "remix", "edit",
                        "extend"})
FPS = 24
#: What the emulated vLLM-Omni serves (the model is chosen when the server starts).
VLLM_OMNI_MODEL = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
#: The size drawn when a vLLM-Omni or SGLang request names none (Wan's 480p default).
MODEL_DEFAULT_SIZE = "832x480"
#: The LiteLLM version whose behaviour the gateway dialect reproduces (tests/gateway).
LITELLM_VERSION = "1.110.2"


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


class ProxyError(ApiError):
    """An error the gateway itself answers (not one it relays from the upstream)."""


# vLLM-Omni ------------------------------------------------------------------------------------

_SECONDS = re.compile(r"^[1-9]\d*$")  # SecondStr, vllm_omni/entrypoints/openai/protocol/videos.py
_SIZE = re.compile(r"^\d+x\d+$")  # SizeStr, same file


def _form_int(body: Body, name: str, lo: int | None = None, hi: int | None = None) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, value, "an integer", code="invalid_type")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"
        raise invalid(name, value, bounds)
    return value


def _form_float(body: Body, name: str, lo: float | None = None,
                hi: float | None = None) -> float | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise invalid(name, value, "a number", code="invalid_type") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, value, "a number", code="invalid_type")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise invalid(name, value, f"a number from {lo} to {hi}" if hi is not None
                      else f"a number > {lo}")
    return float(value)


def _form_bool(body: Body, name: str) -> bool | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0",
                                                     "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    if not isinstance(value, bool):
        raise invalid(name, value, "true or false", code="invalid_type")
    return value


def _form_str(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, value, "a string", code="invalid_type")
    return value


def _form_json(body: Body, name: str) -> dict[str, Any] | None:
    """A JSON object sent as a form field (a string) or inside a JSON body (an object), as
    vLLM-Omni's ``_parse_form_json`` reads ``image_reference``, ``lora``, ``extra_params``
    (vllm_omni/entrypoints/openai/api_server.py)."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise invalid(name, value, "a JSON object") from None
    if not isinstance(value, dict):
        raise invalid(name, value, "a JSON object")
    return value


def _fingerprint(req: CreateRequest, fields: dict[str, Any]) -> str:
    blob = json.dumps([req.fingerprint(), fields], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _image(data: bytes, param: str) -> str:
    """The extension of an uploaded PNG/JPEG/WebP (any size: the render covers the frame)."""
    from PIL import Image, UnidentifiedImageError

    from ._server_params import IMAGE_FORMATS

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise invalid(param, f"<{len(data)} bytes>", "a PNG, JPEG or WebP image") from exc
    if fmt not in IMAGE_FORMATS:
        raise invalid(param, f"<{fmt} image>", "a PNG, JPEG or WebP image")
    return IMAGE_FORMATS[fmt]


def _data_url(url: str, param: str) -> bytes:
    head, sep, payload = url.partition(",")
    if url.startswith("data:") and sep and head.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(param, head + ",...", "valid base64 data") from None
    raise invalid(param, url[:60], "a base64 data URL (the local server fetches no remote URLs)")


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
        model = _form_str(body, "model") or VLLM_OMNI_MODEL
        seconds = body.get("seconds")
        if seconds is not None and (not isinstance(seconds, str) or not _SECONDS.match(seconds)):
            raise invalid("seconds", seconds, "a positive whole number of seconds as a string")
        size = body.get("size")
        if size is not None and (not isinstance(size, str) or not _SIZE.match(size)):
            raise invalid("size", size, "'WIDTHxHEIGHT', e.g. '1280x720'")
        width, height = _form_int(body, "width", 1), _form_int(body, "height", 1)
        fps = _form_int(body, "fps", 1)
        num_frames = _form_int(body, "num_frames", 1)
        options: dict[str, Any] = {
            "negative_prompt": _form_str(body, "negative_prompt"),
            "num_inference_steps": _form_int(body, "num_inference_steps", 1, 200),
            "guidance_scale": _form_float(body, "guidance_scale", 0.0, 20.0),
            "guidance_scale_2": _form_float(body, "guidance_scale_2", 0.0, 20.0),
            "true_cfg_scale": _form_float(body, "true_cfg_scale", 0.0, 20.0),
            "boundary_ratio": _form_float(body, "boundary_ratio", 0.0, 1.0),
            "flow_shift": _form_float(body, "flow_shift"),
            "generate_sound": _form_bool(body, "generate_sound") or None,
            "sound_duration": _form_float(body, "sound_duration", 0.0),
            "lora": _form_json(body, "lora"),
            "extra_params": _form_json(body, "extra_params"),
            "num_frames": num_frames,
        }
        seed = _form_int(body, "seed")
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
        _renderable(render_size)
        req = CreateRequest(prompt, model, seconds_shown, render_size, reference, ext)
        options = {k: v for k, v in options.items() if v is not None}
        fields = {"fps": fps, "seed": seed, "options": options or None,
                  "size_shown": size}
        return Created(req, fields, _fingerprint(req, fields))

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
            return _detail(exc)
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
    reference = _form_json(body, "image_reference")
    if upload is not None and reference is not None:
        raise ApiError(400, "Provide either input_reference or image_reference, not both.",
                       param="image_reference")
    if upload is not None:
        if not isinstance(upload, Upload):
            raise invalid("input_reference", upload, "an uploaded image file")
        return upload.data, _image(upload.data, "input_reference")
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
    return data, _image(data, "image_reference")


def _renderable(size: str) -> None:
    from .render import MAX_SIDE, MIN_SIDE

    width, height = (int(v) for v in size.split("x"))
    if not all(v % 2 == 0 and MIN_SIDE <= v <= MAX_SIDE for v in (width, height)):
        raise invalid("size", size, f"even width and height from {MIN_SIDE} to {MAX_SIDE} "
                      "(what the local server can render)")


def _detail(exc: ApiError) -> web.Response:
    """FastAPI's default error body."""
    return web.json_response({"detail": exc.message}, status=exc.status, headers=exc.headers)


# SGLang ---------------------------------------------------------------------------------------


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
        return _detail(exc)  # HTTPException(detail=...) everywhere in video_api.py

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
    seconds = _form_int(body, "seconds", 1)
    fps = _form_int(body, "fps", 1) or FPS
    num_frames = _form_int(body, "num_frames", 1)
    seed = _form_int(body, "seed")
    seed = 1024 if seed is None else seed  # VideoGenerationsRequest.seed defaults to 1024
    size = body.get("size") or MODEL_DEFAULT_SIZE
    if not isinstance(size, str) or not _SIZE.match(size):
        raise invalid("size", size, "'WIDTHxHEIGHT', e.g. '1280x720'")
    _renderable(size)
    frames = num_frames if num_frames is not None else fps * (seconds or 4)
    # _video_job_from_sampling: seconds = round(num_frames / fps); model = req.model or sora-2
    shown = str(round(frames / fps))
    model = body.get("model") if isinstance(body.get("model"), str) and body["model"] else "sora-2"
    reference, ext = None, None
    if isinstance(body.get("input_reference"), Upload):
        reference = body["input_reference"].data
        ext = _image(reference, "input_reference")
    options: dict[str, Any] = {"num_frames": frames if num_frames is not None else None,
                               "negative_prompt": _form_str(body, "negative_prompt"),
                               "num_inference_steps": _form_int(body, "num_inference_steps", 1),
                               "guidance_scale": _form_float(body, "guidance_scale")}
    options = {k: v for k, v in options.items() if v is not None}
    req = CreateRequest(prompt, str(model), shown, size, reference, ext)
    fields = {"fps": fps, "seed": seed, "options": options or None}
    return Created(req, fields, _fingerprint(req, fields))


# LiteLLM gateway ------------------------------------------------------------------------------


class Gateway(Dialect):
    """A LiteLLM proxy (1.110.2) in front of this server, as measured in tests/gateway: what
    the client sees is the Sora API rewritten by the proxy."""

    name = "gateway"
    # GET /v1/videos answers 400 (no provider in the request); DELETE is not routed (405)
    operations = frozenset({"create", "retrieve", "content", "remix", "edit", "extend"})
    poll_hints = False  # dropped, as retry-after and etag (tests/gateway)
    honours_idempotency = False  # neither honoured nor forwarded upstream (tests/gateway)
    honours_variant = False  # every variant returns the MP4 (tests/gateway)
    cache_headers = False  # the download has no ETag or Last-Modified (tests/gateway)

    def __init__(self) -> None:
        #: The deployment id LiteLLM appends: a sha256 hex of the model's entry.
        self.deployment = hashlib.sha256(secrets.token_bytes(16)).hexdigest()

    def new_id(self, model: str) -> tuple[str, str | None]:
        # encode_video_id_with_provider (litellm/types/videos/utils.py): "video_" + base64 of
        # SpecialEnums.LITELLM_MANAGED_VIDEO_COMPLETE_STR (litellm/types/utils.py) with the
        # deployment id appended, as measured: 266 characters ending in "==" for our ids
        upstream = f"video_{secrets.token_hex(24)}"
        text = (f"litellm:custom_llm_provider:openai;model_id:{model};video_id:{upstream};"
                f"deployment_id:{self.deployment}")
        return "video_" + base64.b64encode(text.encode()).decode(), upstream

    def find(self, video_id: str, lookup: Callable[[str], Job | None]) -> Job | None:
        if _decode_litellm_id(video_id) is None:
            # not one of its ids: the proxy sends it to its default provider, unreachable here
            raise ProxyError(
                500, "litellm.InternalServerError: InternalServerError: OpenAIException - "
                "Cannot connect to host api.openai.com:443 [Name or service not known]")
        return lookup(video_id)

    def video(self, job: Job, now: float, *, answer_to_create: bool = False) -> dict[str, Any]:
        # VideoObject (litellm/types/videos/main.py): no prompt; usage on create and remix
        # answers only; remixed_from_video_id is the upstream's raw id (tests/gateway)
        body = super().video(job, now)
        body.pop("prompt", None)
        body["usage"] = ({"duration_seconds": float(job.seconds)}
                         if answer_to_create and job.kind in ("create", "remix") else None)
        return body

    def error(self, exc: ApiError, *, routing: bool = False) -> web.Response:
        if routing:
            return _detail(exc)  # FastAPI's router, e.g. DELETE: 405 {"detail": ...}
        if exc.status == 401:
            # without a database an unknown key is "No connected db." (tests/gateway)
            return _litellm_error(400, "No connected db.", "no_db_connection")
        if isinstance(exc, ProxyError):
            kind = "internal_server_error" if exc.status >= 500 else "invalid_request_error"
            return _litellm_error(exc.status, exc.message, kind)
        # an upstream error: status kept, the upstream's envelope quoted in the message, param
        # dropped, code = the status as a string, retry headers dropped (tests/gateway)
        name = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError",
                422: "UnprocessableEntityError"}.get(exc.status, "InternalServerError")
        upstream = json.dumps({"error": {"message": exc.message, "type": exc.type,
                                         "param": exc.param, "code": exc.code}})
        message = (f"litellm.{name}: OpenAIException - {upstream}\n\nLiteLLM: model group "
                   "'sora-2' failed with the error above. No fallback was attempted.")
        kind = "internal_server_error" if exc.status >= 500 else "invalid_request_error"
        return _litellm_error(exc.status, message, kind)

    def unsupported(self, operation: str) -> ApiError:
        # GET /v1/videos without a model: litellm cannot pick a provider (tests/gateway)
        return ProxyError(
            400, "litellm.BadRequestError: LLM Provider NOT provided. Pass in the LLM provider "
            "you are trying to call. You passed model=\n Pass model as E.g. For 'Huggingface' "
            "inference endpoints pass in `completion(model='huggingface/starcoder',..)` Learn "
            "more: https://docs.litellm.ai/docs/providers")


def _litellm_error(status: int, message: str, kind: str) -> web.Response:
    """LiteLLM's envelope: param null, code the HTTP status as a string (tests/gateway)."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
    return web.json_response(body, status=status)


def _decode_litellm_id(video_id: str) -> str | None:
    if not video_id.startswith("video_"):
        return None
    try:
        text = base64.b64decode(video_id[6:], validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return text if text.startswith("litellm:custom_llm_provider:") else None


_DIALECTS: dict[str, type[Dialect]] = {
    "sora": Dialect, "vllm-omni": VllmOmni, "sglang": SGLang, "gateway": Gateway,
}


def dialect_named(name: str) -> Dialect:
    """A fresh dialect object by name (one of ``DIALECTS``)."""
    return _DIALECTS[name]()

