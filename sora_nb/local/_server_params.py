"""Request bodies of the local server: multipart/JSON parsing (``video[id]`` style keys),
body limits, and validation against sora_nb._params (errors in ``_server_errors``)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .._params import (
    DEFAULT_MODEL,
    MAX_PROMPT_CHARS,
    MODELS,
    PRO_ONLY_SIZES,
    SECONDS,
    SIZES,
    is_known_model,
    is_pro,
)
from ._server_errors import ApiError, invalid, missing, quoted, too_large

__all__ = [
    "API_DEFAULT_SECONDS",
    "API_DEFAULT_SIZE",
    "BODY_TIMEOUT",
    "EXTENSION_SECONDS",
    "IMAGE_FORMATS",
    "MAX_BODY_BYTES",
    "MAX_JSON_BYTES",
    "Body",
    "CreateRequest",
    "Upload",
    "parse_create",
    "prompt_of",
    "read_body",
    "reject_unknown",
    "seconds_of",
    "video_of",
]

#: The hosted API's own defaults (sora_nb's client defaults differ, see _params).
API_DEFAULT_SIZE = "720x1280"
API_DEFAULT_SECONDS = "4"
#: Lengths of an extension's new segment, as the SDK documents for ``videos.extend``.
EXTENSION_SECONDS: tuple[str, ...] = ("4", "8", "12", "16", "20")
CREATE_SECONDS: tuple[str, ...] = tuple(str(s) for s in SECONDS)
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body."""

    filename: str
    content_type: str
    data: bytes


Body = dict[str, Any]
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


#: Largest request body: multipart uploads (reference images, source videos).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Largest JSON body: JSON is parsed in one piece on the event loop, so it gets a tighter
#: bound (a reference image as a base64 data URL still fits: 1792x1024 RGB is 7.3 MB in base64).
MAX_JSON_BYTES = 16 * 1024 * 1024
#: Seconds a client has to send a whole request body (a slow client holds one connection
#: at most this long; the headers have their own bound, see _server_http.HEADER_TIMEOUT).
BODY_TIMEOUT = 60.0



async def read_body(request: web.Request) -> Body:
    """The request's parameters as a dict: JSON as is; multipart/urlencoded forms with
    ``a[b]=v`` keys nested as ``{"a": {"b": v}}`` and files as ``Upload``. A body larger
    than its limit is refused from its Content-Length before any of it is read (413); one
    that takes longer than ``BODY_TIMEOUT`` to arrive is answered 408."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large(MAX_BODY_BYTES)
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            return await _read_body(request)
    except TimeoutError:
        raise ApiError(408, f"The request body did not arrive within {BODY_TIMEOUT:g} s.",
                       code="request_timeout") from None


async def _read_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise too_large(MAX_JSON_BYTES, "JSON body")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > MAX_JSON_BYTES:  # chunked, no Content-Length: stop reading at the limit
            raise too_large(MAX_JSON_BYTES, "JSON body")
        chunks.append(chunk)
    return json.loads(b"".join(chunks).decode("utf-8"))


async def _read_body(request: web.Request) -> Body:
    ctype = request.content_type
    if ctype == "application/json":
        try:
            data = await _read_json(request)
        except ValueError as exc:  # UnicodeDecodeError included
            raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc
        except RecursionError:  # e.g. 100,000 nested '['
            raise ApiError(400, "The request body is not valid JSON: nested too deeply.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return data
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.post()
        except web.HTTPException:
            raise  # 413: answered by the middleware in the envelope
        except Exception as exc:
            # Only the client's bytes can make the form parser fail: a missing boundary,
            # a part without a name, a header that is not a token, text that is not UTF-8.
            raise ApiError(
                400, f"The request body is not a valid {ctype} form: "
                f"{type(exc).__name__}: {_clip(str(exc))}",
            ) from None
        body: Body = {}
        for raw_key, value in form.items():
            item: Any = value
            if isinstance(value, web.FileField):
                item = Upload(value.filename, value.content_type, value.file.read())
            _assign(body, raw_key, item)
        return body
    if not await request.read():
        return {}
    raise ApiError(
        400,
        f"Unsupported Content-Type {ctype!r}: send multipart/form-data or application/json.",
    )


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _assign(body: Body, raw_key: str, value: Any) -> None:
    match = _KEY.match(raw_key)
    if match is None:
        raise ApiError(400, f"Malformed form field name {raw_key!r}.", param=raw_key)
    path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    target = body
    for part in path[:-1]:
        nested = target.setdefault(part, {})
        if not isinstance(nested, dict):
            raise ApiError(400, f"Form field {raw_key!r} conflicts with {part!r}.", param=part)
        target = nested
    target[path[-1]] = value


def reject_unknown(body: Body, known: tuple[str, ...]) -> None:
    for name in body:
        if name not in known:
            message = f"Unknown parameter: '{name}'. Allowed: {quoted(known)}."
            raise ApiError(400, message, param=name, code="unknown_parameter")


def prompt_of(body: Body) -> str:
    prompt = body.get("prompt")
    if prompt is None:
        raise missing("prompt")
    if not isinstance(prompt, str):
        raise invalid("prompt", prompt, "a string", code="invalid_type")
    if not prompt.strip():
        raise invalid("prompt", prompt, "a non-empty description of the video")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (JSON "\ud800"): not text
        raise invalid(
            "prompt", prompt[max(0, exc.start - 10): exc.end + 10],
            "valid Unicode text (it contains a lone surrogate)",
        ) from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected at most {MAX_PROMPT_CHARS} "
            f"characters, but got {len(prompt)}.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def seconds_of(body: Body, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.get("seconds", default)
    if value is None:
        raise missing("seconds")
    if not isinstance(value, str):
        raise ApiError(
            400,
            f"Invalid type for 'seconds': expected one of {quoted(allowed)} (a string), "
            f"but got {type(value).__name__} {value!r} instead.",
            param="seconds",
            code="invalid_type",
        )
    if value not in allowed:
        raise invalid("seconds", value, quoted(allowed))
    return value


def video_of(body: Body) -> str | Upload:
    """The source of an edit or extension: a ``video[id]`` reference to a completed video,
    or an uploaded video file (the spec's ``video: FileTypes | {"id": ...}``)."""
    video = body.get("video")
    if video is None:
        raise missing("video")
    if isinstance(video, Upload):
        if not video.data:
            raise invalid("video", "<empty file>", "a video file (MP4) or {'id': 'video_...'}")
        return video
    if not isinstance(video, dict) or not isinstance(video.get("id"), str) or not video["id"]:
        raise invalid("video", video, "an uploaded video file or a reference to a completed "
                      "video: {'id': 'video_...'}")
    return str(video["id"])


@dataclass(frozen=True)
class CreateRequest:
    """A validated ``POST /v1/videos``."""

    prompt: str
    model: str
    seconds: str
    size: str
    reference: bytes | None = None
    reference_ext: str | None = None

    @property
    def width(self) -> int:
        return int(self.size.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.size.split("x")[1])

    def fingerprint(self) -> str:
        ref = hashlib.sha256(self.reference).hexdigest() if self.reference else None
        fields = [self.prompt, self.model, self.seconds, self.size, ref]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def parse_create(body: Body) -> CreateRequest:
    reject_unknown(body, ("prompt", "model", "seconds", "size", "input_reference"))
    prompt = prompt_of(body)
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not is_known_model(model):
        raise invalid(
            "model", model, f"{quoted(MODELS)} or a dated snapshot such as 'sora-2-2025-10-06'"
        )
    seconds = seconds_of(body, CREATE_SECONDS, API_DEFAULT_SECONDS)
    size = body.get("size", API_DEFAULT_SIZE)
    if not isinstance(size, str) or size not in SIZES:
        raise invalid("size", size, quoted(SIZES))
    if size in PRO_ONLY_SIZES and not is_pro(model):
        plain = tuple(s for s in SIZES if s not in PRO_ONLY_SIZES)
        raise invalid("size", size, f"{quoted(plain)} with {model}; {size} needs sora-2-pro")
    reference, ext = None, None
    if "input_reference" in body:
        reference = _reference_bytes(body["input_reference"])
        ext = check_reference(reference, size)
    return CreateRequest(prompt, model, seconds, size, reference, ext)


def _reference_bytes(value: Any) -> bytes:
    if isinstance(value, Upload):
        return value.data
    if isinstance(value, dict) and isinstance(value.get("image_url"), str):
        url: str = value["image_url"]
        head, sep, payload = url.partition(",")
        if url.startswith("data:") and sep and head.endswith(";base64"):
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise invalid("input_reference", head + ",...", "valid base64 data") from exc
        raise invalid(
            "input_reference",
            url,
            "an uploaded file or a base64 data URL (the local server fetches no remote URLs)",
        )
    if isinstance(value, dict) and "file_id" in value:
        raise invalid(
            "input_reference", value, "an uploaded file or {'image_url': 'data:...'}; "
            "file_id references need the hosted Files API",
        )
    raise invalid("input_reference", value, "a PNG, JPEG or WebP image upload")


def check_reference(data: bytes, size: str) -> str:
    """Check that ``data`` is a PNG/JPEG/WebP image of exactly ``size``; return its extension."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ApiError(
            400,
            f"Invalid 'input_reference': not a readable PNG, JPEG or WebP image ({exc}).",
            param="input_reference",
            code="invalid_image",
        ) from exc
    if fmt not in IMAGE_FORMATS:
        raise invalid("input_reference", f"<{fmt} image>", "a PNG, JPEG or WebP image")
    if f"{width}x{height}" != size:
        raise ApiError(
            400,
            f"Inpaint image must match the requested width and height: input_reference is "
            f"{width}x{height} but size is {size}.",
            param="input_reference",
            code="invalid_image_size",
        )
    return IMAGE_FORMATS[fmt]
