"""Request fields as vLLM-Omni and SGLang read them (pydantic behind FastAPI): lenient
numbers, booleans, strings and JSON objects from a form or a JSON body, and image checks."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

from ._server_errors import invalid
from ._server_params import IMAGE_FORMATS, Body, CreateRequest

__all__ = ["MODEL_DEFAULT_SIZE", "SIZE", "check_renderable", "fingerprint_of", "form_bool",
           "form_float", "form_int", "form_json", "form_str", "image_ext"]

#: The size drawn when a vLLM-Omni or SGLang request names none (Wan's 480p default).
MODEL_DEFAULT_SIZE = "832x480"
SIZE = re.compile(r"^\d+x\d+$")  # SizeStr, vllm_omni/entrypoints/openai/protocol/videos.py


def form_int(body: Body, name: str, lo: int | None = None, hi: int | None = None) -> int | None:
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


def form_float(body: Body, name: str, lo: float | None = None,
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


def form_bool(body: Body, name: str) -> bool | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0",
                                                     "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    if not isinstance(value, bool):
        raise invalid(name, value, "true or false", code="invalid_type")
    return value


def form_str(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, value, "a string", code="invalid_type")
    return value


def form_json(body: Body, name: str) -> dict[str, Any] | None:
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


def fingerprint_of(req: CreateRequest, fields: dict[str, Any]) -> str:
    blob = json.dumps([req.fingerprint(), fields], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def image_ext(data: bytes, param: str) -> str:
    """The extension of an uploaded PNG/JPEG/WebP (any size: the render covers the frame)."""
    # PIL is loaded when the first image arrives, as _server_params.check_reference does
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise invalid(param, f"<{len(data)} bytes>", "a PNG, JPEG or WebP image") from exc
    if fmt not in IMAGE_FORMATS:
        raise invalid(param, f"<{fmt} image>", "a PNG, JPEG or WebP image")
    return IMAGE_FORMATS[fmt]


def check_renderable(size: str) -> None:
    # the renderer pulls in numpy and PIL: loaded by the first request that names a size
    from .render import MAX_SIDE, MIN_SIDE

    width, height = (int(v) for v in size.split("x"))
    if not all(v % 2 == 0 and MIN_SIDE <= v <= MAX_SIDE for v in (width, height)):
        raise invalid("size", size, f"even width and height from {MIN_SIDE} to {MAX_SIDE} "
                      "(what the local server can render)")
