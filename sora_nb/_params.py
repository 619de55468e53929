"""Validation and normalisation of request parameters (pure functions): model, seconds
(rounded to 4/8/12), size, prompt and reference image, by server profile (``_profiles``).
The local server shares the constants."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ._errors import SoraParameterError
from ._profiles import (
    ProfileName,
    check_profile,
    extra_form_fields,
    normalize_extra,
    normalize_generic_model,
    normalize_generic_seconds,
    normalize_generic_size,
)
from ._prompt import MAX_PROMPT_CHARS, enhance_prompt
from ._reference import IMAGE_FITS, ImageFit, ReferenceImage, load_reference
from ._types import SIZES

# MAX_PROMPT_CHARS (from _prompt) and SIZES (from _types) are re-exported: sora_nb.local
# validates requests against this module's names.
__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SECONDS",
    "DEFAULT_SIZE",
    "MAX_PROMPT_CHARS",
    "MODELS",
    "PRO_ONLY_SIZES",
    "SECONDS",
    "SIZES",
    "SoraDurationWarning",
    "VideoParams",
    "build_params",
    "is_known_model",
    "is_pro",
    "normalize_model",
    "normalize_prompt",
    "normalize_seconds",
    "normalize_size",
    "round_seconds",
]

DEFAULT_MODEL = "sora-2"
MODELS: tuple[str, ...] = (DEFAULT_MODEL, "sora-2-pro")
#: Dated snapshots of the two models, e.g. ``sora-2-2025-10-06``, ``sora-2-pro-2025-10-06``.
SNAPSHOT_PATTERN = re.compile(r"^sora-2(-pro)?-\d{4}-\d{2}-\d{2}$")
SECONDS: tuple[int, ...] = (4, 8, 12)
PRO_ONLY_SIZES: frozenset[str] = frozenset({"1024x1792", "1792x1024"})
#: The API's own default size is 720x1280; sora_nb defaults to 16:9, as the original TypeScript
#: module does.
DEFAULT_SIZE = "1280x720"
DEFAULT_SECONDS = 8


def is_known_model(model: str) -> bool:
    """True for ``sora-2``, ``sora-2-pro`` and their dated snapshots."""
    return model in MODELS or SNAPSHOT_PATTERN.match(model) is not None


def is_pro(model: str) -> bool:
    """True for ``sora-2-pro`` and its snapshots."""
    return model.startswith("sora-2-pro")


class SoraDurationWarning(UserWarning):
    """A duration was not one of 4, 8 or 12 seconds and was rounded to the nearest."""


# -- model, seconds, size, prompt ----------------------------------------------------------

_MODEL_ALLOWED = (
    "'sora-2' (default), 'sora-2-pro' or a dated snapshot such as 'sora-2-2025-10-06' "
    "(a server with its own model names takes profile='generic')"
)
_SECONDS_ALLOWED = "4, 8 or 12 (other positive numbers are rounded to the nearest)"


def normalize_model(model: object) -> str:
    """Return the model name to send: ``sora-2`` (for ``None``), ``sora-2-pro`` or a dated
    snapshot. Other names are refused (the ``generic`` profile takes any)."""
    if model is None:
        return DEFAULT_MODEL
    if not isinstance(model, str) or not model.strip():
        raise SoraParameterError("model", model, _MODEL_ALLOWED)
    name = model.strip()
    if is_known_model(name.lower()):
        return name.lower()
    raise SoraParameterError("model", model, _MODEL_ALLOWED)


def round_seconds(value: float) -> int:
    """The nearest of 4, 8 and 12 to ``value``; a tie rounds up (6 -> 8, 10 -> 12)."""
    if math.isnan(value):
        raise SoraParameterError("seconds", value, _SECONDS_ALLOWED)
    if value < 6:
        return 4
    if value < 10:
        return 8
    return 12


def normalize_seconds(value: object) -> int:
    """Return 4, 8 or 12 for a positive number or numeric string (``DEFAULT_SECONDS`` for
    ``None``), warning with ``SoraDurationWarning`` when rounding changed it. Bools, NaN,
    inf, zero, negatives and non-numbers raise ``SoraParameterError``."""
    number: float
    if value is None:
        return DEFAULT_SECONDS
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise SoraParameterError("seconds", value, _SECONDS_ALLOWED)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise SoraParameterError("seconds", value, _SECONDS_ALLOWED) from None
    if not math.isfinite(number) or number <= 0:
        raise SoraParameterError("seconds", value, _SECONDS_ALLOWED)
    seconds = round_seconds(number)
    if seconds != number:
        shown = int(number) if number.is_integer() else number
        warnings.warn(
            f"seconds={shown} is not a Sora duration; using {seconds} (allowed: 4, 8, 12)",
            SoraDurationWarning,
            stacklevel=_caller_stacklevel(),
        )
    return seconds


def normalize_size(size: object, model: str) -> str:
    """Return a size of ``SIZES`` as ``"WxH"``: ``DEFAULT_SIZE`` for ``None``; accepts
    ``"1280x720"``, ``"1280X720"``, ``" 1280 x 720 "`` and ``(1280, 720)``. 1024x1792 and
    1792x1024 need ``sora-2-pro`` (a custom model name is not restricted)."""
    if size is None:
        return DEFAULT_SIZE
    allowed = ", ".join(SIZES) + " (as 'WxH' or a (width, height) tuple)"
    text: str | None = None
    if isinstance(size, str):
        text = re.sub(r"\s+", "", size).lower()
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)
    ):
        text = f"{int(size[0])}x{int(size[1])}"
    if text not in SIZES:
        raise SoraParameterError("size", size, allowed)
    if text in PRO_ONLY_SIZES and is_known_model(model) and not is_pro(model):
        raise SoraParameterError(
            "size",
            size,
            f"{', '.join(s for s in SIZES if s not in PRO_ONLY_SIZES)} with model={model!r}",
            detail=f"{text} needs model='sora-2-pro'",
        )
    return text


def normalize_prompt(prompt: object, *, param: str = "prompt") -> str:
    """Return ``prompt`` stripped; it must be a non-empty string of at most
    ``MAX_PROMPT_CHARS`` characters."""
    allowed = f"a non-empty string of at most {MAX_PROMPT_CHARS:,} characters"
    if not isinstance(prompt, str):
        raise SoraParameterError(param, prompt, allowed)
    text = prompt.strip()
    if not text:
        raise SoraParameterError(param, prompt, allowed, detail="it is empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise SoraParameterError(param, prompt, allowed, detail=f"it has {len(text):,}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no server can receive it
        where = exc.start
        raise SoraParameterError(
            param, prompt, allowed + " of valid Unicode",
            detail=f"character {where} is a lone surrogate (U+{ord(text[where]):04X}), "
            "which UTF-8 cannot carry",
        ) from None
    return text


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside sora_nb."""
    package_dir = str(Path(__file__).resolve().parent) + os.sep
    frame = sys._getframe(1)  # the function that calls warnings.warn: stacklevel 1
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
        package_dir
    ):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


@dataclass(frozen=True)
class VideoParams:
    """A validated request: what ``client.videos.create`` receives, plus the user's own
    prompt (``prompt`` starts with ``original_prompt``; the rest is the enhancement).
    On the ``generic`` profile ``model``, ``seconds`` and ``size`` may be ``None`` (not
    sent: the server's default), ``extra`` holds server-specific fields and
    ``reference_url`` a reference image given by URL (sent as ``image_reference``)."""

    prompt: str
    original_prompt: str
    model: str | None
    seconds: int | None
    size: str | None
    reference: ReferenceImage | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    profile: ProfileName = "sora"
    reference_url: str | None = None

    def cache_key(self, backend: str) -> str:
        """A sha256 hex digest over the normalised parameters, the reference image's hash,
        the extra fields and ``backend`` (an identity such as a base URL; never a key)."""
        payload: dict[str, Any] = {
            "v": 1,
            "backend": backend,
            "prompt": self.prompt,
            "model": self.model,
            "seconds": self.seconds,
            "size": self.size,
            "reference": self.reference.sha256 if self.reference else None,
        }
        # Only when used, so the keys of plain Sora requests stay what they always were.
        if self.extra:
            payload["extra"] = self.extra
        if self.profile != "sora":
            payload["profile"] = self.profile
        if self.reference_url is not None:
            payload["reference_url"] = self.reference_url
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def create_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``client.videos.create(**kwargs)``."""
        kwargs: dict[str, Any] = {"prompt": self.prompt}
        if self.model is not None:
            kwargs["model"] = self.model
        if self.seconds is not None:
            kwargs["seconds"] = str(self.seconds)
        if self.size is not None:
            kwargs["size"] = self.size
        if self.reference is not None:
            ref = self.reference
            kwargs["input_reference"] = (ref.filename, ref.data, ref.mime)
        body = extra_form_fields(self.extra)
        if self.reference_url is not None:
            # vLLM-Omni's JSON-safe reference (protocol/videos.py: UrlImageReference), sent
            # as JSON text in the multipart form like its other object fields.
            body["image_reference"] = json.dumps({"image_url": self.reference_url})
        if body:
            kwargs["extra_body"] = body
        return kwargs

    def json_body(self) -> dict[str, Any]:
        """The create as a JSON body (for servers that take text-to-video creates as JSON
        only, such as SGLang): the same fields, ``extra`` values as themselves."""
        body: dict[str, Any] = {k: v for k, v in self.create_kwargs().items()
                                if k not in ("extra_body", "input_reference")}
        body.update(self.extra)
        if self.reference_url is not None:
            body["image_reference"] = {"image_url": self.reference_url}
        return body


def build_params(
    prompt: object,
    *,
    model: object = DEFAULT_MODEL,
    seconds: object = DEFAULT_SECONDS,
    size: object = None,
    input_reference: str | os.PathLike[str] | bytes | Image.Image | ReferenceImage | None = None,
    fit: ImageFit | None = None,
    enhance: bool = True,
    profile: ProfileName = "sora",
    extra: dict[str, Any] | None = None,
) -> VideoParams:
    """Validate and normalise every parameter of a video request by the rules of
    ``profile`` (see the ``normalize_*`` functions here and in ``_profiles``, and
    ``load_reference``); ``enhance`` runs ``enhance_prompt`` on the prompt. On the
    ``generic`` profile an ``http(s)://`` or ``data:image/`` URL as ``input_reference`` is
    sent as vLLM-Omni's ``image_reference`` JSON instead of an upload."""

    if not isinstance(enhance, bool):
        raise SoraParameterError("enhance", enhance, "True or False")
    profile = check_profile(profile) or "sora"
    original = normalize_prompt(prompt)
    fields = normalize_extra(extra)
    name: str | None
    duration: int | None
    dimensions: str | None
    if profile == "sora":
        name = normalize_model(model)
        duration = normalize_seconds(seconds)
        dimensions = normalize_size(size, name)
    else:
        name = normalize_generic_model(model)
        duration = normalize_generic_seconds(seconds)
        dimensions = normalize_generic_size(size)
    reference = None
    url = _reference_url(input_reference) if profile == "generic" else None
    if url is not None:
        if "image_reference" in fields:
            raise SoraParameterError("extra", extra, "no 'image_reference' key when "
                                     "input_reference is given (it is sent as image_reference)")
    elif input_reference is not None:
        reference = load_reference(input_reference, dimensions, fit)
    elif fit is not None and fit not in IMAGE_FITS:
        raise SoraParameterError("fit", fit, "'crop', 'pad' or None")
    return VideoParams(
        prompt=enhance_prompt(original) if enhance else original,
        original_prompt=original,
        model=name,
        seconds=duration,
        size=dimensions,
        reference=reference,
        extra=fields,
        profile=profile,
        reference_url=url,
    )


def _reference_url(ref: object) -> str | None:
    """``ref`` if it is an image URL a generic server fetches itself, else ``None``."""
    if isinstance(ref, str) and re.match(r"^(https?://\S+|data:image/[a-z0-9.+-]+;base64,)", ref):
        return ref
    return None
