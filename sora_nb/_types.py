"""Plain data shared by the job, its views and the functional API: statuses, the one
terminal set, and the read-only snapshot that observers receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "STATUSES",
    "STATUS_ALIASES",
    "TERMINAL",
    "JobError",
    "JobSnapshot",
    "PollState",
    "Status",
    "Variant",
    "normalize_status",
]

#: The statuses sora_nb knows. A server may send others (see ``normalize_status``).
Status = Literal["queued", "in_progress", "completed", "failed", "cancelled", "expired"]
STATUSES: tuple[Status, ...] = (
    "queued", "in_progress", "completed", "failed", "cancelled", "expired"
)
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

Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = ("video", "thumbnail", "spritesheet")

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
        return self.status in TERMINAL

    @property
    def enhanced(self) -> bool:
        return self.prompt != self.original_prompt

    @property
    def enhancement(self) -> str:
        """The text prompt enhancement added after the user's own words ('' if none)."""
        if self.prompt.startswith(self.original_prompt):
            return self.prompt[len(self.original_prompt) :]
        return ""
