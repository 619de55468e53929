"""What each backend can do, learnt from its answers: an operation a server lacks (404, 405,
or a 400 that says so) becomes ``SoraUnsupported``, remembered per backend so it is asked once."""

from __future__ import annotations

import json
import re
import threading
from typing import Literal

import openai

from ._errors import SoraAPIError, SoraUnsupported

__all__ = [
    "OPERATIONS",
    "Operation",
    "forget",
    "lacking",
    "mark_lacking",
    "needs_json",
    "refusal_status",
    "require",
]

#: Operations a server may lack; ``thumbnail`` and ``spritesheet`` are download variants
#: (a server without them gets stills made from the MP4 instead of an error); ``form`` is
#: a create sent as a multipart form without a reference image (SGLang wants JSON then).
Operation = Literal["remix", "edit", "extend", "list", "delete", "thumbnail", "spritesheet",
                    "form"]
OPERATIONS: tuple[Operation, ...] = (
    "remix", "edit", "extend", "list", "delete", "thumbnail", "spritesheet", "form"
)
#: Words with which servers refuse a whole operation in a 400 (LiteLLM 1.110.2 answers
#: a video list with 400 "LLM Provider NOT provided", measured in front of the embedded
#: backend; others say "not supported" or "not implemented").
_REFUSAL = re.compile(
    r"not supported|unsupported|not implemented|provider not provided|no provider|"
    r"not available|not allowed",
    re.IGNORECASE,
)

_lacking: dict[str, set[str]] = {}
_lock = threading.Lock()


def lacking(identity: str, operation: Operation) -> bool:
    """True once backend ``identity`` was seen to lack ``operation`` in this process."""
    with _lock:
        return operation in _lacking.get(identity, ())


def mark_lacking(identity: str, operation: Operation) -> None:
    """Remember that backend ``identity`` lacks ``operation``."""
    with _lock:
        _lacking.setdefault(identity, set()).add(operation)


def forget(identity: str | None = None) -> None:
    """Forget what was learnt about ``identity`` (every backend for ``None``)."""
    with _lock:
        if identity is None:
            _lacking.clear()
        else:
            _lacking.pop(identity, None)


def require(identity: str, operation: Operation, server: str) -> None:
    """Raise ``SoraUnsupported`` at once if ``identity`` is known to lack ``operation``."""
    if lacking(identity, operation):
        raise SoraUnsupported(operation, server)


def _text(body: object) -> str:
    if isinstance(body, str):
        return body
    try:
        return json.dumps(body)
    except (TypeError, ValueError):
        return str(body)


def refusal_status(exc: BaseException, operation: Operation) -> int | None:
    """The HTTP status if ``exc`` (an SDK error, or the ``SoraAPIError`` made of one) may
    say the server lacks ``operation``, else ``None``: 405 always; 404 (the caller then
    checks the video still exists, since a missing video is a 404 too); 400 on ``list``
    (it takes no input of the user's) or with words that refuse the operation itself.
    Any other 400 is about the request."""
    if isinstance(exc, openai.APIStatusError):
        status: int | None = exc.status_code
        text = _text(exc.body) + exc.message
    elif isinstance(exc, SoraAPIError) and not isinstance(exc, SoraUnsupported):
        status, text = exc.status_code, exc.message
    else:
        return None
    if status in (404, 405):
        return status
    if status == 400 and (operation == "list" or _REFUSAL.search(text)):
        return status
    return None


def needs_json(exc: BaseException) -> bool:
    """True for a create refused (4xx) because its multipart form lacks a reference image:
    SGLang's form create requires ``input_reference`` and takes text-to-video as JSON
    (sgl-project/sglang python/sglang/multimodal_gen/runtime/entrypoints/openai/video_api.py;
    docs/diffusion/openai_api.md shows the JSON request)."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (400, 415, 422):
        return False
    text = _text(exc.body) + exc.message
    return "input_reference" in text and "required" in text.lower()
