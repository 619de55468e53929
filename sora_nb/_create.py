"""Sending a create (or a remix, edit, extend) so that no job is ever lost or paid twice:
journaled as ``pending`` before it is sent, retried only when that is safe, completed with
the id after, or left as ``unknown`` (and ``SoraOutcomeUnknown`` raised) when a job may
exist although its id never came back."""

from __future__ import annotations

import contextvars
import logging
import random
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx2
import openai

from . import _store
from ._config import Backend
from ._errors import SoraError, SoraOutcomeUnknown, SoraProtocolError, from_sdk
from ._ids import check_server_id
from ._journal import HistoryEntry, complete_and_read
from ._journal_write import begin_pending, drop_pending, mark_unknown
from ._poller import PollPolicy, fault_delay, is_transient, policy_rng
from ._wire import entry_from_video
from ._wire import field as wire_field

__all__ = [
    "CreateFailed",
    "PendingCreate",
    "classify",
    "create_retry_listener",
    "journaled_create",
    "new_idempotency_key",
    "send_create",
]

T = TypeVar("T")
FailureKind = Literal["refused", "ambiguous"]


def new_idempotency_key() -> str:
    return f"sora-nb-{uuid.uuid4().hex}"


def classify(exc: BaseException) -> FailureKind:
    """``refused`` when the failure proves the server made nothing: the connection was
    never established, a 429 (the server turned the request away), any other 4xx but 409
    (a request with the same idempotency key may be in progress). ``ambiguous`` when it
    may have made the job: a timeout or a connection lost after sending, a 5xx, a 2xx
    whose body could not be read, anything unexpected."""
    if isinstance(exc, openai.APIConnectionError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, (httpx2.ConnectError, httpx2.ConnectTimeout)):
                return "refused"  # nothing was sent: no connection to send it on
            cause = cause.__cause__ or cause.__context__
        return "ambiguous"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return "refused" if 400 <= status < 500 and status != 409 else "ambiguous"
    return "ambiguous"


#: Who else hears of a create's retries in this context: the create queue of ``_many``,
#: for which a 429 on one create slows every create on that backend.
_listener: contextvars.ContextVar[Callable[[Exception, float], None] | None] = (
    contextvars.ContextVar("sora_nb_create_retry_listener", default=None))


@contextmanager
def create_retry_listener(fn: Callable[[Exception, float], None]) -> Iterator[None]:
    """Within this block (and tasks started in it), ``send_create`` also tells ``fn`` of
    every transient fault it retries, with the delay it waits. Polls and downloads do not:
    the queue paces creates only."""
    token = _listener.set(fn)
    try:
        yield
    finally:
        _listener.reset(token)


class CreateFailed(Exception):
    """``send_create`` gave up: ``last`` is the last failure; ``ambiguous`` says whether
    any attempt may have made a job."""

    def __init__(self, last: BaseException, *, ambiguous: bool, attempts: int) -> None:
        super().__init__(f"{attempts} attempt(s); last: {type(last).__name__}")
        self.last = last
        self.ambiguous = ambiguous
        self.attempts = attempts


async def send_create(call: Callable[[], Awaitable[T]], policy: PollPolicy, *,
                      idempotent: bool, rng: random.Random | None = None) -> T:
    """Await ``call()`` (a create carrying one idempotency key for every attempt). A
    transient failure is retried when it proves nothing was made (``refused``), or when the
    server honours the key (``idempotent``: a repeat returns the first job), up to
    ``policy.max_failures`` in a row; anything else raises ``CreateFailed`` at once."""
    rng = rng or policy_rng(policy)
    failures = 0
    ambiguous = False
    while True:
        try:
            return await call()
        except Exception as exc:
            kind = classify(exc)
            ambiguous = ambiguous or kind == "ambiguous"
            transient = isinstance(exc, openai.APIError) and is_transient(exc)
            if not transient or (kind == "ambiguous" and not idempotent):
                raise CreateFailed(exc, ambiguous=ambiguous, attempts=failures + 1) from exc
            failures += 1
            if failures > policy.max_failures:
                raise CreateFailed(exc, ambiguous=ambiguous, attempts=failures) from exc
            delay = fault_delay(policy, exc, failures - 1, rng)
            if (listener := _listener.get()) is not None:
                listener(exc, delay)
            await policy.sleep(delay)


@dataclass(frozen=True)
class PendingCreate:
    """What the journal records before a create is sent: the request (no file bytes, no
    key), the prompts and the idempotency key every attempt carries."""

    prompt: str
    original_prompt: str
    model: str
    seconds: int
    size: str
    kind: str = "create"
    cache_key: str | None = None
    remixed_from: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str = field(default_factory=new_idempotency_key)

    @property
    def headers(self) -> dict[str, str]:
        return {"Idempotency-Key": self.idempotency_key}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} after the request was sent"
    if isinstance(exc, openai.APITimeoutError):
        return "no answer before the timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "the connection was lost after the request was sent"
    return f"{type(exc).__name__} while reading the answer"


async def journaled_create(backend: Backend, pending: PendingCreate,
                           call: Callable[[], Awaitable[T]], policy: PollPolicy
                           ) -> tuple[T, HistoryEntry]:
    """Journal ``pending``, send ``call()`` (which must carry ``pending.headers``), and
    journal the outcome: the job with its id, or ``unknown`` (``SoraOutcomeUnknown``), or
    nothing when the server refused it (the usual ``SoraError``). Returns the server's
    ``Video`` and the journal entry. Nothing is sent if the journal cannot be written."""
    journal = _store.journal()
    key = pending.idempotency_key
    try:
        # awaited, not blocking: the loop runs on while the group commit (_journal_write)
        # writes this entry with those of the other creates in flight, in one fsync
        await journal.async_write(
            begin_pending, key, request=pending.request, prompt=pending.prompt,
            original_prompt=pending.original_prompt, model=pending.model,
            seconds=pending.seconds, size=pending.size, backend=backend.identity,
            kind=pending.kind, cache_key=pending.cache_key, remixed_from=pending.remixed_from,
        )
    except (OSError, sqlite3.Error) as exc:
        raise SoraError(
            f"sora_nb cannot write its journal at {journal.path} ({exc}); nothing was sent, "
            f"so that no job goes unrecorded: check the cache dir (configure(cache_dir=...))"
        ) from None
    try:
        video = await send_create(call, policy, idempotent=backend.idempotent)
    except CreateFailed as failed:
        if failed.ambiguous:
            reason = _reason(failed.last)
            if failed.attempts > 1:
                reason += f"; {failed.attempts} attempts"
            await _settle(journal.async_write(mark_unknown, key, reason))
            entry = _read(lambda: journal.by_idempotency_key(key))
            raise SoraOutcomeUnknown(reason, idempotency_key=key, entry=entry,
                                     backend=backend.label,
                                     last_error=from_sdk(failed.last)) from None
        await _settle(journal.async_write(drop_pending, key))
        raise from_sdk(failed.last) from None
    try:
        video_id = check_server_id(wire_field(video, "id"), server=backend.label)
    except SoraProtocolError as exc:
        await _settle(journal.async_write(mark_unknown, key, exc.message))
        raise
    entry = entry_from_video(
        video, video_id=video_id, backend=backend.identity,
        original_prompt=pending.original_prompt, kind=pending.kind,
        cache_key=pending.cache_key, remixed_from=pending.remixed_from, idempotency_key=key,
    )
    # as journaled (created_at is this machine's time of sending, as history() sorts it)
    journaled = await _settle(journal.async_write(complete_and_read, key, entry))
    return video, journaled or entry


async def _settle(write: Awaitable[T]) -> T | None:
    """A journal write after the request: logged if it fails (``None``), never raised (the
    pending entry already holds the request, so the job can still be found)."""
    try:
        return await write
    except (OSError, sqlite3.Error):
        logging.getLogger("sora_nb").warning(
            "sora_nb: could not update the journal after a create", exc_info=True)
        return None


def _read(read: Callable[[], T]) -> T | None:
    """A journal read after the request: ``None`` (logged) if the journal cannot be read."""
    try:
        return read()
    except (OSError, sqlite3.Error):
        logging.getLogger("sora_nb").warning(
            "sora_nb: could not read the journal after a create", exc_info=True)
        return None
