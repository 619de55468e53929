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
    from ._reference import ImageFit

__all__ = [
    "AUDIO_FITS",
    "AUDIO_MODES",
    "SIZES",
    "STATUSES",
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
]

Status = Literal["queued", "in_progress", "completed", "failed"]
STATUSES: tuple[Status, ...] = get_args(Status)
TERMINAL: frozenset[str] = frozenset({"completed", "failed"})

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
    status: Status
    progress: int
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
    earlier job, default True), ``backend`` (``"local"``, ``"openai"`` or a ``Backend``)."""

    model: str
    seconds: float | int | str
    size: str | tuple[int, int] | None
    input_reference: Any
    fit: ImageFit | None
    enhance: bool
    cache: bool
    backend: BackendName | Backend | None
