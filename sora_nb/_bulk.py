"""Bulk status: one scheduler per backend, on the runtime loop, that answers many jobs'
polls with one list request (``GET /v1/videos?limit=100&order=desc``, paged with ``after``)
instead of a GET each. Pure decisions (``use_list``, ``wakes_early``, ``list_finished``)
apart from the I/O (``Scheduler``).

Each job keeps its own polling loop (``_poller.poll_until_done``: retries, time limit,
cancel); the scheduler only changes how a poll is answered and when a sleep ends. A job's
poll joins the round of polls due at the same moment; with 3 or more jobs in flight a
round becomes one list, which also answers the sleeping jobs due before the next round
could (``wakes_early``: they fall into step and one list serves them all). Rounds never
overlap; a listed job keeps the server's interval (``listed_delay``: a list is one request
for 100 jobs, so the ETA's longer waits save nothing), counted from when its list began,
so 1,000 jobs are each refreshed about once per interval. A job missing from
the list, a job near its predicted end (its own hint decides it: a list carries none), a
job never polled by GET, and any round of 2 or fewer get the per-job GET, with the SDK's
single idempotent semantics. A list answered 400/404/405 (gateways) marks the backend as
lacking ``list`` (``_capabilities``), and every later poll goes by GET. Members are the
polling loops, not the ids: two jobs following one id (the same cell run twice reuses the
job in flight) are two members, each answered and woken on its own."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import openai
from openai.types import Video

from . import _capabilities
from ._config import Backend
from ._poller import PollPolicy, poll_after
from ._runtime import runtime
from ._videos import retrieve_with_headers
from ._wire import field as wire_field
from ._wire import time_of

__all__ = [
    "LIST_PAGE",
    "LIST_SPACING",
    "MIN_BULK",
    "Follower",
    "Scheduler",
    "follow",
    "list_finished",
    "listed_delay",
    "scheduler",
    "use_list",
    "wakes_early",
]

T = TypeVar("T")

#: Jobs per list page (the Videos API's largest ``limit``).
LIST_PAGE = 100
#: Fewest jobs in flight (and due together) for which a list replaces the GETs.
MIN_BULK = 3
#: Seconds a round waits for the other polls due at the same moment.
_GATHER = 0.005
#: Seconds between the end of one list and the start of the next round: while jobs are
#: out of step (being attached or created one by one) each would otherwise start a list
#: of every page, and a list costs the server a page per 100 jobs. A due job waits at most
#: this long; jobs near their end go by GET and never wait.
LIST_SPACING = 0.25


def use_list(due: int, in_flight: int, list_ok: bool) -> bool:
    """One list instead of ``due`` GETs: when the backend has a list, ``MIN_BULK`` or more
    jobs are in flight and due, and at least as many are due as the list has pages."""
    pages = math.ceil(in_flight / LIST_PAGE)
    return list_ok and in_flight >= MIN_BULK and due >= max(MIN_BULK, pages)


def wakes_early(remaining: float, delay: float, horizon: float = 0.0) -> bool:
    """A sleeping job takes a listed status, and ends its sleep, once it is due within half
    its delay plus ``horizon``, the soonest the next round could answer it (this list's
    expected duration plus ``LIST_SPACING``): left asleep, it would wait for that round
    past its due time, and, answered with the rest by pages fetched anyway, it falls into
    step with them (two groups out of phase merge into one round per interval)."""
    return remaining <= delay / 2 + horizon


def listed_delay(delay: float, hint: float | None, listable: bool) -> float:
    """The sleep of a job that lists answer: its hint, where the poller chose longer.
    The poller stretches a job's delay towards its ETA to save GETs (``next_poll_delay``);
    a list costs one request for up to ``LIST_PAGE`` jobs, so a listed job keeps the
    server's interval and stays as fresh as a job polled at every hint."""
    if not listable or hint is None:
        return delay
    return min(delay, hint)


def list_finished(missing: int, has_more: bool, page_oldest: float | None,
                  oldest_wanted: float) -> bool:
    """Stop paging when every wanted job was seen, the list ended, or the page (newest
    first) already reached jobs older than the oldest wanted one (1 s slack: the API's
    ``created_at`` is whole seconds)."""
    if missing == 0 or not has_more or page_oldest is None:
        return True
    return page_oldest < oldest_wanted - 1


def _near_end(eta: float | None, hint: float | None) -> bool:
    """A job within a few hints of its predicted end polls by GET: a GET brings the
    server's current hint, and the poll that sees completion must come within it."""
    return eta is not None and hint is not None and eta <= 4 * hint


Polled = tuple[Video, object]


@dataclass
class _Sleeper:
    due: float
    delay: float
    wake: asyncio.Future[None]


@dataclass
class _Member:
    video_id: str
    created: float
    headers: object = None  # of this job's last GET: its hint, reused for listed polls
    sleeper: _Sleeper | None = None
    listed: Polled | None = None  # a status a list brought, not yet taken
    polled_at: float | None = None  # loop time the request that last answered it was sent
    eta: Callable[[], float | None] | None = field(default=None, repr=False)


class Scheduler:
    """The polls of one backend's jobs: who is due when, one list per round of many."""

    def __init__(self, backend: Backend, loop: asyncio.AbstractEventLoop) -> None:
        self.backend = backend
        self.loop = loop
        self._members: dict[object, _Member] = {}  # by follower: ids may repeat
        self._round: dict[object, asyncio.Future[Polled | None]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._next_list = 0.0  # loop time before which no new round starts
        self._busy = False  # a round is being answered: the next one waits for it
        #: seconds the last list took (the horizon of ``wakes_early``)
        self._list_seconds = 0.0
        #: requests made, by kind: for tests and the benchmark
        self.counts = {"list": 0, "get": 0, "listed": 0}

    # -- membership ---------------------------------------------------------------------

    def join(self, follower: object, video_id: str, created: float,
             eta: Callable[[], float | None] | None = None, first: Polled | None = None
             ) -> None:
        """Let ``follower`` follow ``video_id`` (created at ``created``, Unix time) until
        ``leave(follower)``; ``follower`` is any object unique to one polling loop.
        ``first``: a GET's answer already in hand (an attach's), which is this job's first
        poll: its hint counts, and it is not asked again."""
        self._members[follower] = _Member(video_id=video_id, created=created, eta=eta,
                                          listed=first,
                                          headers=None if first is None else first[1])

    def leave(self, follower: object) -> None:
        member = self._members.pop(follower, None)
        if member is not None and member.sleeper is not None:
            member.sleeper.wake.cancel()
        future = self._round.pop(follower, None)
        if future is not None and not future.done():
            future.cancel()

    @property
    def in_flight(self) -> int:
        return len(self._members)

    # -- the two calls a job's polling loop makes -----------------------------------------

    async def fetch(self, follower: object) -> Polled:
        """The followed job's status: one a list brought, this round's list, or a GET."""
        member = self._members[follower]
        if member.listed is not None:
            polled, member.listed = member.listed, None
            return polled
        if self._bulk_candidate(member):
            future: asyncio.Future[Polled | None] = self.loop.create_future()
            self._round[follower] = future
            self._arm()
            got = await future
            if got is not None:
                return got
        return await self._get(member)

    async def wait(self, follower: object, delay: float, policy: PollPolicy) -> None:
        """Sleep ``delay`` seconds, or less if a list brings the followed job's status."""
        member = self._members.get(follower)
        if member is None:
            await policy.sleep(delay)
            return
        listable = self.in_flight >= MIN_BULK and self._bulk_candidate(member)
        delay = listed_delay(delay, poll_after(member.headers), listable)
        if member.polled_at is not None and policy.sleep is asyncio.sleep:
            # counted from when the request that answered it was sent, not from when the
            # answer came: a round of 1,000 jobs takes a while to hand out (the next round
            # should start one interval after this one did), and a GET's round trip would
            # otherwise add to the hint, so completion would be seen later than the hint
            # (real time only: an injected sleep runs on its own clock)
            delay = max(0.0, member.polled_at + delay - self.loop.time())
        member.polled_at = None
        wake: asyncio.Future[None] = self.loop.create_future()
        member.sleeper = _Sleeper(due=self.loop.time() + delay, delay=delay, wake=wake)
        try:
            if policy.sleep is asyncio.sleep:  # the default: one timer, no extra task
                timer = self.loop.call_later(delay, _resolve, wake)
                try:
                    await wake
                finally:
                    timer.cancel()
            else:  # an injected sleep (tests) decides when the delay is over
                sleeping = asyncio.ensure_future(policy.sleep(delay))
                try:
                    await asyncio.wait({sleeping, wake}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeping.cancel()
        finally:
            member.sleeper = None

    # -- I/O ------------------------------------------------------------------------------

    def _bulk_candidate(self, member: _Member) -> bool:
        if member.headers is None or _capabilities.lacking(self.backend.identity, "list"):
            return False  # first poll of a job by GET: it brings the server's hint
        eta = member.eta() if member.eta is not None else None
        return not _near_end(eta, poll_after(member.headers))

    async def _get(self, member: _Member) -> Polled:
        self.counts["get"] += 1
        sent = self.loop.time()
        polled = await retrieve_with_headers(self.backend, member.video_id)
        member.headers, member.polled_at = polled[1], sent
        return polled

    def _arm(self) -> None:
        """Start a round soon for the polls waiting, unless one is being answered (rounds
        never overlap: overlapping lists would each page through every job, out of step)."""
        if self._flush is None and not self._busy and self._round:
            wait = max(_GATHER, self._next_list - self.loop.time())
            self._flush = self.loop.call_later(wait, self._start_round)

    def _start_round(self) -> None:
        self._flush = None
        batch, self._round = self._round, {}
        self._busy = True
        self.loop.create_task(self._answer(batch))

    def _early(self) -> dict[object, _Member]:
        now = self.loop.time()
        horizon = self._list_seconds + LIST_SPACING
        return {who: m for who, m in self._members.items()
                if m.sleeper is not None and m.listed is None and m.headers is not None
                and wakes_early(m.sleeper.due - now, m.sleeper.delay, horizon)}

    async def _answer(self, batch: dict[object, asyncio.Future[Polled | None]]) -> None:
        try:
            await self._answer_round(batch)
        finally:
            self._busy = False
            self._arm()

    async def _answer_round(self, batch: dict[object, asyncio.Future[Polled | None]]
                            ) -> None:
        found: dict[str, Video] = {}
        early = self._early()
        list_ok = not _capabilities.lacking(self.backend.identity, "list")
        began = self.loop.time()
        if use_list(len(batch) + len(early), self.in_flight, list_ok):
            wanted = {m.video_id for who in batch if (m := self._members.get(who))}
            found = await self._list(wanted | {m.video_id for m in early.values()})
            self._list_seconds = self.loop.time() - began
            self._next_list = self.loop.time() + LIST_SPACING
        for follower, future in batch.items():
            member = self._members.get(follower)
            video = found.get(member.video_id) if member is not None else None
            if member is not None and video is not None:
                member.polled_at = began
            if not future.done():
                future.set_result(None if video is None or member is None
                                  else (video, member.headers))
        for member in early.values():
            video = found.get(member.video_id)
            if video is not None and member.sleeper is not None:
                member.listed = (video, member.headers)
                member.polled_at = began
                _resolve(member.sleeper.wake)

    async def _list(self, wanted: set[str]) -> dict[str, Video]:
        """Page through the list until ``wanted`` is seen (or cannot be); a refusal marks
        the backend as lacking ``list``, any other failure leaves the round to GETs."""
        client = runtime.client(self.backend)
        oldest = min((m.created for m in self._members.values() if m.video_id in wanted),
                     default=0.0)
        found: dict[str, Video] = {}
        after: str | None = None
        try:
            while True:
                self.counts["list"] += 1
                if after is None:
                    page = await client.videos.list(limit=LIST_PAGE, order="desc")
                else:
                    page = await client.videos.list(limit=LIST_PAGE, order="desc",
                                                    after=after)
                times = [t for v in page.data
                         if (t := time_of(wire_field(v, "created_at"))) is not None]
                for video in page.data:
                    if video.id in wanted:
                        found[video.id] = video
                missing = len(wanted - found.keys())
                if list_finished(missing, bool(page.has_more) and bool(page.data),
                                 min(times, default=None), oldest):
                    break
                after = page.data[-1].id
        except openai.APIError as exc:
            if _capabilities.refusal_status(exc, "list") is not None:
                _capabilities.mark_lacking(self.backend.identity, "list")
        self.counts["listed"] += len(found)
        return found


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_schedulers: dict[tuple[str, str, str], Scheduler] = {}


def scheduler(backend: Backend) -> Scheduler:
    """The scheduler of ``backend`` on the running (runtime) loop, kept under its
    ``connection_key``: a new server on a reused port (or ``configure(api_key=...)``) gets
    its own instead of being polled with the old key."""
    loop = asyncio.get_running_loop()
    key = backend.connection_key
    found = _schedulers.get(key)
    if found is None or found.loop is not loop:
        found = _schedulers[key] = Scheduler(backend, loop)
    return found


class Follower:
    """One polling loop's handle on its backend's scheduler: ``fetch`` and ``wait`` for the
    job it follows (the scheduler's member key, so ids may repeat across loops)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def fetch(self) -> Polled:
        return await self.scheduler.fetch(self)

    async def wait(self, delay: float, policy: PollPolicy) -> None:
        await self.scheduler.wait(self, delay, policy)


async def follow(backend: Backend, video_id: str, created: float,
                 eta: Callable[[], float | None],
                 run: Callable[[Follower], Awaitable[T]], first: Polled | None = None) -> T:
    """Run ``run(follower)`` with the follower a member of its backend's scheduler,
    following ``video_id`` until ``run`` returns (``first``: see ``Scheduler.join``)."""
    sched = scheduler(backend)
    follower = Follower(sched)
    sched.join(follower, video_id, created, eta, first)
    try:
        return await run(follower)
    finally:
        sched.leave(follower)
