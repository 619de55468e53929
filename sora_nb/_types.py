"""Plain data shared by the job, its views and the functional API: statuses, the one
terminal set, and the read-only snapshot that observers receive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict, get_args

if TYPE_CHECKING:
    from moviepy import AudioClip
    from numpy.typing import NDArray

    from ._config import Backend, BackendName
    from ._profiles import ProfileName
    from ._reference import ImageFit

__all__ = [
    "AUDIO_FITS",
    "AUDIO_MODES",
    "SIZES",
    "STATUSES",
    "STATUS_ALIASES",
    "TERMINAL",
    "VARIANTS",
    "AudioFit",
    "AudioInput",
    "AudioMode",
    "JobError",
    "JobOptions",
    "JobSnapshot",
    "PollState",
    "Status",
    "Variant",
    "allowed",
    "normalize_status",
]

#: The statuses sora_nb knows. A server may send others (see ``normalize_status``).
Status = Literal["queued", "in_progress", "completed", "failed", "cancelled", "expired"]
STATUSES: tuple[Status, ...] = get_args(Status)
#: The one set of final statuses: polling stops, ``wait()`` returns or raises.
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled", "expired"})
#: What real servers and gateways send for the same states (issue 10): LiteLLM's Veo jobs
#: say ``processing``; other gateways and clients ``pending``, ``running``, ``succeeded``,
#: ``canceled`` (one l, the US spelling).
STATUS_ALIASES: dict[str, Status] = {
    "pending": "queued",
    "processing": "in_progress",
    "running": "in_progress",
    "succeeded": "completed",
    "canceled": "cancelled",
}
_MAX_STATUS_CHARS = 40


def normalize_status(raw: object) -> Status | str:
    """The ``Status`` for what a server sent (case and spaces ignored, aliases mapped), or,
    for a word sora_nb does not know, that word as sent (cut to 40 characters, unprintable
    characters removed) so it can be shown. An unknown status is never final: only a
    deadline ends waiting on it. A missing or non-text status reads as ``"unknown"``."""
    if not isinstance(raw, str) or not raw.strip():
        return "unknown"
    word = raw.strip().lower().replace(" ", "_").replace("-", "_")
    if word in STATUSES:
        return word
    if word in STATUS_ALIASES:
        return STATUS_ALIASES[word]
    shown = "".join(ch for ch in raw.strip() if ch.isprintable())  # data, never a command
    return shown if len(shown) <= _MAX_STATUS_CHARS else shown[: _MAX_STATUS_CHARS - 1] + "…"

#: The sizes the Sora API renders (``PRO_ONLY_SIZES`` in ``_params`` need sora-2-pro).
SIZES: tuple[str, ...] = ("720x1280", "1280x720", "1024x1792", "1792x1024")

Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)

#: What ``merge_audio`` accepts as audio: a file (wav, mp3, m4a, aac, ogg, opus, flac), the
#: bytes of one, ``(samples, sample_rate)`` with samples shaped (n,) or (n, 1|2), or a
#: moviepy ``AudioClip``.
AudioInput: TypeAlias = "str | Path | bytes | tuple[NDArray[Any], int] | AudioClip"
#: How ``merge_audio`` fits audio to the video: cut (``trim``), repeat (``loop``) or follow
#: with silence (``pad``); audio longer than the video is always cut.
AudioFit = Literal["trim", "loop", "pad"]
AUDIO_FITS: tuple[AudioFit, ...] = get_args(AudioFit)
#: ``replace`` the video's soundtrack, or ``mix`` the new audio over it.
AudioMode = Literal["replace", "mix"]
AUDIO_MODES: tuple[AudioMode, ...] = get_args(AudioMode)


def allowed(values: tuple[str, ...]) -> str:
    """``'a', 'b' or 'c'``: the allowed values, as an error message lists them."""
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]

#: What the local poller is doing for this job: ``active`` while it polls, ``done`` once the
#: job is terminal, ``cancelled`` after ``job.cancel()``, ``timed_out`` past the deadline,
#: ``error`` after a long run of transient faults (``JobSnapshot.note`` says which).
PollState = Literal["active", "done", "cancelled", "timed_out", "error"]


@dataclass(frozen=True)
class JobError:
    """The server's reason for a failed job."""

    code: str
    message: str


@dataclass(frozen=True)
class JobSnapshot:
    """A read-only picture of a job at one moment; what every observer receives."""

    id: str
    #: A ``Status``, or the server's own word when sora_nb does not know it.
    status: Status | str
    #: Percent done, never lower than an earlier snapshot's; ``None`` while the server
    #: reports no progress (an indeterminate bar, and no ETA).
    progress: int | None
    prompt: str
    original_prompt: str
    model: str
    size: str
    seconds: int
    backend: str
    from_cache: bool
    created_at: float
    elapsed: float
    error: JobError | None = None
    poll_state: PollState = "active"
    note: str | None = None
    eta: float | None = None
    remixed_from: str | None = None
    #: Variants sora_nb made itself from the MP4 because the server had none (or sent the
    #: video in their place), e.g. ``("thumbnail",)``.
    made_locally: tuple[Variant, ...] = ()

    @property
    def terminal(self) -> bool:
        """True once the job completed or failed."""
        return self.status in TERMINAL

    @property
    def enhanced(self) -> bool:
        """True when prompt enhancement changed the prompt that was sent."""
        return self.prompt != self.original_prompt

    @property
    def enhancement(self) -> str:
        """The text prompt enhancement added after the user's own words ('' if none)."""
        if self.prompt.startswith(self.original_prompt):
            return self.prompt[len(self.original_prompt) :]
        return ""


class JobOptions(TypedDict, total=False):
    """The keyword arguments of ``SoraJob(...)`` and ``SoraJob.async_create(...)``, written
    once (replicate-python's ``CreatePredictionParams`` does the same with ``Unpack``).

    ``model`` (default ``"sora-2"``), ``seconds`` (4, 8 or 12; others are rounded; default
    8), ``size`` (``"1280x720"`` or ``(w, h)``; default by model), ``input_reference`` (an
    image: path, bytes or PIL image), ``fit`` (``"crop"``/``"pad"`` a reference of another
    size), ``enhance`` (prompt enhancement, default True), ``cache`` (reuse an identical
    earlier job, default True), ``backend`` (``"local"``, ``"openai"`` or a ``Backend``).
    Those are the ``sora`` profile's rules and defaults; on the ``generic`` profile any
    model, any ``WxH`` and whole seconds are sent as given, and ``None`` leaves them to the
    server. ``extra`` adds server-specific request fields (``{"seed": 7}``); ``profile``
    (``"sora"`` or ``"generic"``) names the rules instead of following the backend."""

    model: str | None
    seconds: float | int | str | None
    size: str | tuple[int, int] | None
    input_reference: Any
    fit: ImageFit | None
    enhance: bool
    cache: bool
    backend: BackendName | Backend | None
    extra: dict[str, Any] | None
    profile: ProfileName | None
