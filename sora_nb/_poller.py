"""Polling and retrying: pure decisions (next delay, transient or final, past the time
limit) apart from the two I/O loops built on them, ``with_retries`` and ``poll_until_done``.

The decisions follow the server: ``openai-poll-after-ms`` is the floor (else exponential
backoff with jitter), and once the job's progress rate gives an ETA the next poll aims at
half the time left, so the polls close in on the predicted end instead of following every
hint; a 429 honours ``retry-after``; transient faults are retried up to a bound.
The split mirrors httpx's ``BaseClient`` (``httpx/_client.py``), which computes redirects
with no I/O while the thin clients send."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import openai

from ._errors import SoraParameterError

__all__ = [
    "ETA_SHARE",
    "MAX_RETRY_AFTER",
    "OVERDUE_AT_FLOOR",
    "TRANSIENT",
    "PollPolicy",
    "TransientFailure",
    "backoff_delay",
    "fault_delay",
    "is_transient",
    "next_poll_delay",
    "past_time_limit",
    "policy_rng",
    "poll_after",
    "poll_until_done",
    "retry_after",
    "retry_reason",
    "track_overdue",
    "with_retries",
]

T = TypeVar("T")


@dataclass(frozen=True)
class PollPolicy:
    """How sora_nb polls and retries. ``clock`` and ``sleep`` are injectable so tests run
    at full speed: a test passes a fake clock and a sleep that advances it."""

    min_interval: float = 0.5
    max_interval: float = 10.0
    factor: float = 1.5
    jitter: float = 0.1
    #: Seconds of polling before giving up (the original TypeScript module's 10 minutes);
    #: ``job.resume()`` continues. A duration: each polling run ends at start + max_wait.
    max_wait: float = 600.0
    #: Consecutive transient failures (5xx, connection errors) before the job reports an error.
    max_failures: int = 8
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    #: Random seed of the jitter (``None``: different each run), for reproducible delays.
    seed: int | None = None

    def __post_init__(self) -> None:
        # Checked here, not when the first backoff happens: a bad value would otherwise
        # surface minutes later, deep inside a poll, as an untyped error.
        for name in ("min_interval", "max_interval", "factor", "jitter", "max_wait"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise SoraParameterError(name, value, "a number of seconds (or a ratio)")
        if not 0 <= self.min_interval < float("inf"):
            raise SoraParameterError("min_interval", self.min_interval, "seconds >= 0")
        if not self.min_interval <= self.max_interval < float("inf"):
            raise SoraParameterError("max_interval", self.max_interval,
                                     f"seconds >= min_interval ({self.min_interval})")
        if not 1 <= self.factor < float("inf"):
            raise SoraParameterError("factor", self.factor, "a growth factor >= 1")
        if not 0 <= self.jitter <= 1:
            raise SoraParameterError("jitter", self.jitter, "a share from 0 to 1")
        if not self.max_wait >= 0:
            raise SoraParameterError("max_wait", self.max_wait, "seconds >= 0 (inf: no limit)")
        if (isinstance(self.max_failures, bool) or not isinstance(self.max_failures, int)
                or self.max_failures < 0):
            raise SoraParameterError("max_failures", self.max_failures, "an int >= 0")
        for name in ("clock", "sleep"):
            if not callable(getattr(self, name)):
                raise SoraParameterError(name, getattr(self, name), "a callable")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise SoraParameterError("seed", self.seed, "an int or None")


#: The jitter of every policy without a seed: one generator, seeded once (seeding a new one
#: reads the OS's entropy: 0.2 ms, twice per create).
_unseeded = random.Random()
# a forked child draws its own jitter, not its parent's sequence (as the random module does)
os.register_at_fork(after_in_child=_unseeded.seed)


def policy_rng(policy: PollPolicy) -> random.Random:
    """The jitter source of one request or polling run: ``Random(policy.seed)`` when the
    policy has a seed (reproducible runs), else the shared unseeded generator."""
    return random.Random(policy.seed) if policy.seed is not None else _unseeded


def backoff_delay(policy: PollPolicy, attempt: int, rng: random.Random) -> float:
    """Delay before poll number ``attempt`` (0-based) when the server gave no hint:
    ``min * factor**attempt`` capped at ``max``, spread by +-``jitter``."""
    base = min(policy.max_interval, policy.min_interval * policy.factor ** min(attempt, 64))
    spread = base * policy.jitter
    return max(0.0, base + rng.uniform(-spread, spread))


def poll_after(headers: object) -> float | None:
    """Seconds the server asks us to wait (``openai-poll-after-ms``), if it said."""
    value = _header(headers, "openai-poll-after-ms")
    try:
        return max(0.0, int(value) / 1000) if value is not None else None
    except ValueError:
        return None


def retry_after(headers: object) -> float | None:
    """Seconds a 429/503 asks us to wait (``retry-after-ms`` or ``retry-after``), if given."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = _header(headers, name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            continue
    return None


def _header(headers: object, name: str) -> str | None:
    get = getattr(headers, "get", None)
    value = get(name) if get is not None else None
    return value if isinstance(value, str) else None


TRANSIENT = (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError)
#: The longest wait a ``retry-after`` header may impose (beyond ``max_interval``).
MAX_RETRY_AFTER = 60.0


class TransientFailure(Exception):
    """Raised by ``with_retries`` when transient faults outlast ``policy.max_failures``."""

    def __init__(self, last: Exception, attempts: int) -> None:
        super().__init__(f"{attempts} attempts failed; last error: {type(last).__name__}")
        self.last = last
        self.attempts = attempts


def fault_delay(policy: PollPolicy, exc: Exception, failures: int, rng: random.Random) -> float:
    """How long to wait after a transient fault: ``retry-after`` on a 429, else backoff."""
    if isinstance(exc, openai.APIStatusError):
        hinted = retry_after(exc.response.headers)
        if hinted is not None:
            return min(hinted, max(policy.max_interval, MAX_RETRY_AFTER))
    return backoff_delay(policy, failures, rng)


def is_transient(exc: Exception) -> bool:
    """Worth retrying: connection errors, 5xx, and 429s other than an exhausted quota."""
    if isinstance(exc, openai.RateLimitError):
        return getattr(exc, "code", None) != "insufficient_quota"
    return isinstance(exc, TRANSIENT)


def retry_reason(exc: Exception) -> str:
    """A few words for a note on the job: why the last request is being retried."""
    if isinstance(exc, openai.RateLimitError):
        return "rate limited"
    if isinstance(exc, openai.APIStatusError):
        return "backend error"
    return "connection problem"


#: The share of a job's predicted time left that the next poll waits (see ``next_poll_delay``).
ETA_SHARE = 0.5
#: Polls at the floor past a job's predicted end (``track_overdue``) before the floor grows.
OVERDUE_AT_FLOOR = 2


def next_poll_delay(policy: PollPolicy, headers: object, attempt: int,
                    rng: random.Random, eta: float | None = None, overdue: int = 0,
                    ceiling: float | None = None) -> float:
    """Delay before the next poll. The floor is the server's ``openai-poll-after-ms`` hint
    if it sent one, else backoff for poll number ``attempt``. With an ``eta`` (seconds left,
    from the job's progress rate) the delay is ``ETA_SHARE`` of it, capped at
    ``policy.max_interval`` and never under the floor: each poll halves the distance to the
    predicted end, so a job costs a few polls plus about log2(eta / hint), and the poll
    that sees completion comes at most one hint late while the prediction holds. When it
    fails (``overdue``: polls past the predicted end, ``track_overdue``; e.g. a job held at
    99 % while the server encodes), the floor grows by ``policy.factor`` per poll after the
    first ``OVERDUE_AT_FLOOR``, up to ``ceiling`` (the longest hint the job was sent: the
    SDK's interval), so a stalled job costs no request per hint and is seen done no later
    than the SDK would see it.

    Why not the hint alone: the SDK's ``create_and_poll`` (openai/resources/videos.py,
    ``AsyncVideos.poll``) keeps the first hint (or 1 s) for the whole job, and following
    every, ever shorter hint made 1.9-2.5x its requests (issue 13)."""
    hinted = poll_after(headers)
    floor = hinted if hinted is not None else backoff_delay(policy, attempt, rng)
    if overdue > OVERDUE_AT_FLOOR:
        grown = floor * policy.factor ** min(overdue - OVERDUE_AT_FLOOR, 64)
        top = policy.max_interval if ceiling is None else min(ceiling, policy.max_interval)
        return max(floor, min(top, grown))
    if eta is None or eta * ETA_SHARE <= floor:
        return floor
    return max(floor, min(policy.max_interval, eta * ETA_SHARE))


def track_overdue(end_at: float | None, overdue: int, now: float, left: float | None,
                  delay: float, latest: float | None = None) -> tuple[float | None, int]:
    """Follow a job through its predicted end: ``end_at`` is set when the job enters the
    last stretch (the next poll lands past the earliest predicted end: ``left <= delay``)
    to ``now + latest + delay`` (``latest``: seconds to the latest plausible end, else
    ``left``); every poll after it counts as ``overdue``. Leaving the stretch (a new ETA)
    starts over. Why two ends: progress comes in whole percents, so a job may end anywhere
    within its last percent (0.6 s of a 60 s job); polls aim at the earliest end, and only
    a job past the latest one is held up (e.g. encoding at 99 %)."""
    if left is None or left > delay:
        return None, 0
    if end_at is None:
        return now + max(left, latest or 0.0) + delay, 0
    return end_at, overdue + 1 if now > end_at else overdue


def past_time_limit(policy: PollPolicy, started: float, now: float) -> bool:
    """True once a polling run that began at ``started`` has run past ``policy.max_wait``."""
    return now - started > policy.max_wait


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: PollPolicy,
    *,
    rng: random.Random | None = None,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> T:
    """Await ``call()``, retrying transient faults (429 after ``retry-after``, 5xx and
    connection errors with backoff) up to ``policy.max_failures`` times in a row."""
    rng = rng or policy_rng(policy)
    failures = 0
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            if not is_transient(exc):
                raise
            failures += 1
            if failures > policy.max_failures:
                raise TransientFailure(exc, failures) from exc
            delay = fault_delay(policy, exc, failures - 1, rng)
            if on_retry is not None:
                on_retry(exc, delay)
            await policy.sleep(delay)


class _TimeLimit(Exception):
    """Internal: the polling run passed ``policy.max_wait`` (checked before each request)."""


async def poll_until_done(
    fetch: Callable[[], Awaitable[tuple[T, object]]],
    done: Callable[[T], bool],
    policy: PollPolicy,
    *,
    on_result: Callable[[T], None],
    on_retry: Callable[[Exception, float], None] | None = None,
    eta: Callable[[], float | None] | None = None,
    eta_latest: Callable[[], float | None] | None = None,
    wait: Callable[[float], Awaitable[None]] | None = None,
) -> Literal["done", "timed_out"]:
    """Call ``fetch()`` (a result and its response headers) until ``done(result)``, handing
    every result to ``on_result``. Transient faults are retried by ``with_retries``
    (``on_retry`` hears of each); ``TransientFailure`` or any other error propagates.
    Returns ``"timed_out"`` when the next request would start past ``policy.max_wait``.

    ``eta()`` (seconds left, read after each result; best the earliest plausible end, as
    ``JobState._eta`` gives) lets ``next_poll_delay`` aim at the predicted end;
    ``eta_latest()`` (to the latest plausible end, ``JobState._eta_latest``) says when the
    job is overdue (``track_overdue``);
    ``wait(delay)`` replaces ``policy.sleep`` between polls (the bulk scheduler's, which
    may end early when a list brought this job's status)."""
    pause = wait if wait is not None else policy.sleep
    rng = policy_rng(policy)
    started = policy.clock()

    async def attempt() -> tuple[T, object]:
        if past_time_limit(policy, started, policy.clock()):
            raise _TimeLimit
        return await fetch()

    polls = overdue = 0
    end_at: float | None = None
    widest = 0.0  # the longest hint so far
    while True:
        try:
            result, headers = await with_retries(attempt, policy, rng=rng, on_retry=on_retry)
        except _TimeLimit:
            return "timed_out"
        on_result(result)
        if done(result):
            return "done"
        left = eta() if eta is not None else None
        latest = eta_latest() if eta_latest is not None else None
        widest = max(widest, poll_after(headers) or 0.0)
        delay = next_poll_delay(policy, headers, polls, rng, left, overdue, widest or None)
        end_at, overdue = track_overdue(end_at, overdue, policy.clock(), left, delay, latest)
        await pause(delay)
        polls += 1
