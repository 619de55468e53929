"""Fault injection for the local server: the ``FaultConfig`` users pass to ``start()`` and the
seeded ``FaultInjector`` that decides, request by request and job by job, what goes wrong."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from .._errors import SoraParameterError

__all__ = ["FaultConfig", "FaultInjector", "JobFailure", "RequestFault"]

FaultKind = Literal["drop", "rate_limit", "server_error"]
#: Statuses a ``server_error`` fault answers with, drawn evenly.
SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)


@dataclass(frozen=True)
class FaultConfig:
    """What the local server does wrong on purpose, so clients can be tested against it.

    Rates are fractions in [0, 1]. With a ``seed`` the sequence of faults is reproducible:
    the n-th request (and the n-th job) always meets the same fate.
    """

    #: Fraction of jobs that end ``failed`` with error code ``internal_error``.
    failure_rate: float = 0.0
    #: Fraction of requests answered 429 with ``retry-after`` / ``retry-after-ms`` headers.
    rate_limit_rate: float = 0.0
    #: Seconds sent in ``retry-after`` (and as milliseconds in ``retry-after-ms``).
    retry_after: float = 1.0
    #: Fraction of requests answered 500, 502 or 503 in OpenAI's error envelope.
    server_error_rate: float = 0.0
    #: Seconds added to every request before it is handled.
    latency: float = 0.0
    #: Fraction of requests whose connection is closed without any response.
    drop_rate: float = 0.0
    #: Seed of the fault sequence; ``None`` draws a fresh one.
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("failure_rate", "rate_limit_rate", "server_error_rate", "drop_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise SoraParameterError(name, value, "a fraction between 0.0 and 1.0")
        for name in ("retry_after", "latency"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0 or not math.isfinite(value):
                raise SoraParameterError(name, value, "a finite number of seconds >= 0")
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise SoraParameterError("seed", self.seed, "an int or None")


@dataclass(frozen=True)
class RequestFault:
    """The fault drawn for one request: ``kind`` and, for server errors, the status."""

    kind: FaultKind
    status: int = 0


@dataclass(frozen=True)
class JobFailure:
    """A job planned to fail: at ``at`` (a fraction of its run) with ``code`` and ``message``."""

    at: float
    code: str
    message: str


class FaultInjector:
    """Draws faults from two seeded streams, one per request and one per job, so that
    the fate of the n-th request does not depend on how many jobs were created before it.
    Used only from the server's event loop thread."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(64)
        self._requests = random.Random(f"{seed}:requests")
        self._jobs = random.Random(f"{seed}:jobs")

    def draw_request(self) -> RequestFault | None:
        """The fault for the next request, or ``None``. Every call draws the same number
        of values whatever the outcome, which keeps seeded sequences stable."""
        cfg = self.config
        drop, limit, error, which = (self._requests.random() for _ in range(4))
        if drop < cfg.drop_rate:
            return RequestFault("drop")
        if limit < cfg.rate_limit_rate:
            return RequestFault("rate_limit", 429)
        if error < cfg.server_error_rate:
            index = min(int(which * len(SERVER_ERROR_STATUSES)), len(SERVER_ERROR_STATUSES) - 1)
            return RequestFault("server_error", SERVER_ERROR_STATUSES[index])
        return None

    def draw_job_failure(self) -> JobFailure | None:
        """Whether the next job fails, and where in its run (20-80 %)."""
        fails, at = self._jobs.random(), self._jobs.uniform(0.2, 0.8)
        if fails < self.config.failure_rate:
            return JobFailure(
                at,
                "internal_error",
                "The local server failed this job on purpose (FaultConfig.failure_rate="
                f"{self.config.failure_rate}); create it again to retry.",
            )
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
