"""Server profiles: what sora_nb checks and sends depends on the server. ``sora`` keeps the
Sora API's rules; ``generic`` fits every other OpenAI-compatible ``/v1/videos`` server."""

from __future__ import annotations

import json
import math
import numbers
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from ._errors import SoraParameterError

__all__ = [
    "CORE_PARAMS",
    "PROFILES",
    "ProfileName",
    "check_profile",
    "extra_form_fields",
    "normalize_extra",
    "normalize_generic_model",
    "normalize_generic_seconds",
    "normalize_generic_size",
    "profile_for_url",
]

#: ``sora``: models sora-2 / sora-2-pro (and snapshots), 4/8/12 seconds (others rounded, with
#: ``SoraDurationWarning``), four sizes, two of them for sora-2-pro only.
#: ``generic``: any model name, any ``WxH``, whole seconds sent as given, ``extra=`` fields.
ProfileName = Literal["sora", "generic"]
PROFILES: tuple[ProfileName, ...] = ("sora", "generic")
#: Request fields sora_nb itself sets: an ``extra=`` key may not override them.
CORE_PARAMS: frozenset[str] = frozenset({"prompt", "model", "seconds", "size", "input_reference"})
#: Bounds that keep a typo (``seconds=8000``) from reaching a server: a day of video, 16K.
MAX_GENERIC_SECONDS = 86_400
MAX_SIDE = 16_384
MAX_MODEL_CHARS = 256
_EXTRA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_OPENAI_HOSTS = frozenset({"api.openai.com"})


def check_profile(profile: object, *, param: str = "profile") -> ProfileName | None:
    """``profile`` if it is ``"sora"``, ``"generic"`` or ``None`` (follow the backend)."""
    if profile is None or profile in PROFILES:
        return profile
    raise SoraParameterError(param, profile, "'sora', 'generic' or None (follow the backend)")


def profile_for_url(base_url: str, *, embedded: bool = False) -> ProfileName:
    """The profile a backend gets when none is named: ``sora`` for OpenAI's own URL and for
    sora_nb's embedded backend (``embedded``), ``generic`` for any other server."""
    if embedded:
        return "sora"
    host = (urlsplit(base_url).hostname or "").lower()
    return "sora" if host in _OPENAI_HOSTS else "generic"


# -- the generic profile's parameters ------------------------------------------------------

_G_MODEL = "a non-empty model name the server serves, or None for the server's own default"
_G_SECONDS = (f"a whole number of seconds from 1 to {MAX_GENERIC_SECONDS} (sent as given, "
              "never rounded), or None for the server's default")
_G_SIZE = (f"'WxH' with sides from 1 to {MAX_SIDE} (e.g. '832x480'), a (width, height) "
           "tuple, or None")


def normalize_generic_model(model: object) -> str | None:
    """Any non-empty model name (stripped; case kept: servers name models as they like);
    ``None`` leaves the choice to the server."""
    if model is None:
        return None
    if not isinstance(model, str) or not model.strip() or len(model.strip()) > MAX_MODEL_CHARS:
        raise SoraParameterError("model", model, _G_MODEL)
    return model.strip()


def normalize_generic_seconds(value: object) -> int | None:
    """A whole number of seconds, as given: ``7``, ``"7"`` and ``7.0`` are 7; ``7.5``,
    ``0``, negatives, bools, NaN and non-numbers are refused (nothing is rounded)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise SoraParameterError("seconds", value, _G_SECONDS)
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (ValueError, OverflowError):
        raise SoraParameterError("seconds", value, _G_SECONDS) from None
    whole = math.isfinite(number) and number.is_integer()
    if not whole or not 1 <= number <= MAX_GENERIC_SECONDS:
        raise SoraParameterError("seconds", value, _G_SECONDS)
    return int(number)


def normalize_generic_size(size: object) -> str | None:
    """Any ``WxH`` (``" 832 X 480 "`` and ``(832, 480)`` read as ``"832x480"``)."""
    if size is None:
        return None
    width = height = None
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", size)
        if match:
            width, height = int(match[1]), int(match[2])
    elif (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)):
        width, height = int(size[0]), int(size[1])
    if width is None or height is None or not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise SoraParameterError("size", size, _G_SIZE)
    return f"{width}x{height}"


# -- extra fields ----------------------------------------------------------------------------

_EXTRA_ALLOWED = (
    "a dict of extra request fields with JSON values, e.g. {'seed': 7, "
    "'negative_prompt': 'blurry', 'num_inference_steps': 30}"
)


def normalize_extra(extra: object) -> dict[str, Any]:
    """Check ``extra`` (server-specific request fields such as vLLM-Omni's ``seed``,
    ``negative_prompt``, ``num_inference_steps``): a dict of field names to JSON values.
    Keys sora_nb sets itself (``CORE_PARAMS``) are refused; ``None`` values are dropped
    (not sent). Returns a new dict in key order (so equal requests hash equally)."""
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise SoraParameterError("extra", extra, _EXTRA_ALLOWED)
    clean: dict[str, Any] = {}
    for key in sorted(extra, key=str):
        value = extra[key]
        if not isinstance(key, str) or not _EXTRA_KEY.match(key):
            raise SoraParameterError(
                "extra", extra, _EXTRA_ALLOWED,
                detail=f"key {key!r} is not a field name (letters, digits, _ . -; at most 64)",
            )
        if key in CORE_PARAMS:
            raise SoraParameterError(
                "extra", extra, _EXTRA_ALLOWED,
                detail=f"{key!r} is a parameter of its own: pass {key}= instead",
            )
        if value is None:
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SoraParameterError(
                "extra", extra, _EXTRA_ALLOWED,
                detail=f"the value of {key!r} is not JSON-serialisable ({exc})",
            ) from None
        clean[key] = value
    return clean


def extra_form_fields(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` as fields of the SDK's multipart create: objects and lists go as JSON text,
    which is how vLLM-Omni's form reads ``lora``, ``extra_params`` and ``image_reference``
    (vllm-project/vllm-omni docs/serving/videos_api.md: "JSON-encoded"); the SDK would
    otherwise flatten them into ``key[sub]`` fields no server reads."""
    return {
        key: json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        for key, value in extra.items()
    }
