"""Plain data shared by the job, its views and the functional API: statuses, the one
terminal set, and the read-only snapshot that observers receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["TERMINAL", "JobError", "JobSnapshot", "PollState", "Status", "Variant"]

Status = Literal["queued", "in_progress", "completed", "failed"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed"})

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
