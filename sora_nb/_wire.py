"""Reading server answers leniently (pure functions). The openai SDK builds a ``Video`` from
whatever JSON came back without validating it, so a field may be missing, ``null`` or of
another type (``seconds: "4.0"``, ``progress: null``, ``created_at: "soon"``). Nothing
here raises on such a value: a created job is never lost to an odd field."""

from __future__ import annotations

import math
import time
from typing import Any

from ._journal import HistoryEntry
from ._types import normalize_status

__all__ = [
    "entry_from_video",
    "error_of",
    "field",
    "progress_of",
    "seconds_of",
    "status_of",
    "text_of",
    "time_of",
]


def field(obj: object, name: str) -> Any:
    """``obj.name``, or ``obj[name]`` for a dict, or ``None`` when it is not there."""
    if isinstance(obj, dict):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:  # a property of an odd object may raise anything
        return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("s%"))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def seconds_of(value: object) -> int:
    """A duration as whole seconds: ``8``, ``"8"``, ``"4.0"``, ``8.0``, ``"8s"``; 0 when
    there is none or it is not a number."""
    number = _number(value)
    return max(0, round(number)) if number is not None else 0


def progress_of(value: object) -> int | None:
    """Progress in percent clamped to 0..100, or ``None`` when the server gave none
    (``null``, missing, not a number): an indeterminate bar, never a crash."""
    number = _number(value)
    return None if number is None else max(0, min(100, int(number)))


def time_of(value: object) -> float | None:
    """A Unix timestamp (seconds), or ``None`` when absent or not a number."""
    number = _number(value)
    return number if number is not None and number >= 0 else None


def text_of(value: object, default: str = "") -> str:
    """A string field as text: ``default`` for ``None``, ``str()`` of anything else."""
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def status_of(value: object) -> str:
    """The status as the server sent it, or ``"unknown"`` when there is none."""
    text = text_of(value).strip()
    return text or "unknown"


def error_of(video: object) -> tuple[str | None, str | None]:
    """``(code, message)`` of a job's error, as text (vLLM-Omni sends an int code)."""
    error = field(video, "error")
    if error is None:
        return None, None
    code, message = field(error, "code"), field(error, "message")
    return (None if code is None else text_of(code)), (None if message is None
                                                       else text_of(message))


def entry_from_video(video: object, *, video_id: str, backend: str, original_prompt: str | None,
                     kind: str, cache_key: str | None = None, remixed_from: str | None = None,
                     idempotency_key: str | None = None, created_at: float | None = None
                     ) -> HistoryEntry:
    """The journal entry of a job from the server's answer, whatever odd values it holds.
    ``video_id`` is the id already checked (``_ids.check_server_id``)."""
    prompt = text_of(field(video, "prompt"))
    code, message = error_of(video)
    return HistoryEntry(
        id=video_id, prompt=prompt or (original_prompt or ""),
        original_prompt=original_prompt if original_prompt is not None else prompt,
        model=text_of(field(video, "model")), seconds=seconds_of(field(video, "seconds")),
        size=text_of(field(video, "size")), backend=backend,
        created_at=created_at if created_at is not None else (
            time_of(field(video, "created_at")) or time.time()),
        status=normalize_status(field(video, "status")),
        progress=progress_of(field(video, "progress")) or 0,
        error_code=code, error_message=message,
        remixed_from=remixed_from or (text_of(field(video, "remixed_from_video_id")) or None),
        kind=kind, cache_key=cache_key, idempotency_key=idempotency_key,
    )
