"""The create queue on its own (``_many.CreateQueue``): waiting creates start in order, a
freed slot goes to the next one only, a cancelled waiter never holds a slot, and a 429
heard through ``create_retry_listener`` pauses every create and halves the limit.

The creates here are coroutines that wait on events instead of HTTP requests (the queue
never sees the difference; test_many.py runs it against the embedded server), and the 429
is an ``openai.RateLimitError`` built from an ``httpx2.Response``: no server answers here,
so the timing of the pause is the loop's own clock, not a server's."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import httpx2
import openai
import pytest

from sora_nb._create import create_retry_listener
from sora_nb._many import CreateQueue


def _rate_limited() -> openai.RateLimitError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/videos")
    return openai.RateLimitError("429", response=httpx2.Response(429, request=request),
                                 body=None)


def _run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a scenario, failing (not hanging) if the queue never lets it finish."""
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 10)

    asyncio.run(bounded())


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_waiting_creates_start_in_order_and_one_per_freed_slot() -> None:
    async def scenario() -> None:
        queue = CreateQueue(asyncio.get_running_loop(), ceiling=3)
        started: list[int] = []
        gates = [asyncio.Event() for _ in range(10)]

        async def create(i: int) -> int:
            started.append(i)
            await gates[i].wait()
            return i

        tasks = [asyncio.create_task(queue.run(functools.partial(create, i))) for i in range(10)]
        await _settle()
        assert started == [0, 1, 2] and queue.active == 3
        gates[1].set()  # one slot frees: exactly the next waiter starts
        await _settle()
        assert started == [0, 1, 2, 3] and queue.active == 3
        for gate in gates:
            gate.set()
        assert await asyncio.gather(*tasks) == list(range(10))
        assert started == list(range(10))
        assert queue.peak == 3 and queue.active == 0 and not queue._waiting

    _run(scenario)


def test_a_cancelled_waiter_never_holds_a_slot() -> None:
    async def scenario() -> None:
        queue = CreateQueue(asyncio.get_running_loop(), ceiling=1)
        gate = asyncio.Event()
        started: list[str] = []

        async def create(name: str) -> str:
            started.append(name)
            await gate.wait()
            return name

        first = asyncio.create_task(queue.run(lambda: create("first")))
        waiting = asyncio.create_task(queue.run(lambda: create("waiting")))
        last = asyncio.create_task(queue.run(lambda: create("last")))
        await _settle()
        assert len(queue._waiting) == 2
        waiting.cancel()  # cancelled while queued: it leaves the queue
        await _settle()
        assert len(queue._waiting) == 1
        gate.set()
        assert await first == "first" and await last == "last"
        assert waiting.cancelled() and started == ["first", "last"]
        assert queue.active == 0

        # granted a slot, then cancelled before it ran: the slot goes on to the next
        started.clear()
        queue._take()  # a create holds the only slot
        granted = asyncio.create_task(queue.run(lambda: create("granted")))
        after = asyncio.create_task(queue.run(lambda: create("after")))
        await _settle()
        queue._release(ok=True)  # it ends: the slot goes to `granted` ...
        granted.cancel()  # ... cancelled in the same step, before it starts its create
        assert await after == "after"
        assert granted.cancelled() and "granted" not in started
        assert queue.active == 0

        # cancelled, and a slot freed, in one step: the slot skips it for the next
        started.clear()
        queue._take()
        doomed = asyncio.create_task(queue.run(lambda: create("doomed")))
        next_one = asyncio.create_task(queue.run(lambda: create("next")))
        await _settle()
        doomed.cancel()
        queue._release(ok=True)
        assert await next_one == "next"
        assert doomed.cancelled() and started == ["next"]
        assert queue.active == 0 and not queue._waiting

    _run(scenario)


def test_a_429_pauses_every_create_and_halves_the_limit() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        queue = CreateQueue(loop, ceiling=4)
        started_at: dict[int, float] = {}
        limited = asyncio.Event()
        finish = asyncio.Event()

        async def create(i: int) -> int:
            started_at[i] = loop.time()
            if i == 0:
                # what send_create does when it meets a 429 and will wait 0.1 s; this
                # create then runs on (until `finish`), so its end cannot restart the
                # queue: only the pause's own timer can
                from sora_nb import _create

                listener = _create._listener.get()
                assert listener is not None
                listener(_rate_limited(), 0.1)
                limited.set()
                await finish.wait()
            return i

        first = asyncio.create_task(queue.run(functools.partial(create, 0)))
        await limited.wait()
        resume_at = queue.resume_at
        assert queue.rate_limited == 1 and queue.limit == 2
        rest = [asyncio.create_task(queue.run(functools.partial(create, i)))
                for i in range(1, 6)]
        await _settle()
        assert set(started_at) == {0}  # paused: nothing else started
        assert await asyncio.gather(*rest) == list(range(1, 6))
        # nothing started before the pause ended (the loop's own clock), and the queue
        # came back on its own while the 429'd create still ran
        assert all(started_at[i] >= resume_at - 0.002 for i in range(1, 6))
        assert not first.done()
        finish.set()
        assert await first == 0
        assert queue.active == 0 and queue.limit == 4  # each success regrew it by one

    _run(scenario)

def test_the_listener_is_for_creates_only() -> None:
    # outside create_retry_listener nothing is told; inside, only that block's listener
    from sora_nb import _create

    assert _create._listener.get() is None
    heard: list[float] = []
    with create_retry_listener(lambda exc, delay: heard.append(delay)):
        listener = _create._listener.get()
        assert listener is not None
        listener(_rate_limited(), 1.5)
    assert heard == [1.5] and _create._listener.get() is None


@pytest.mark.parametrize("ceiling", [1, 32])
def test_many_queued_creates_all_finish(ceiling: int) -> None:
    async def scenario() -> None:
        queue = CreateQueue(asyncio.get_running_loop(), ceiling=ceiling)

        async def create(i: int) -> int:
            await asyncio.sleep(0)
            return i

        got = await asyncio.gather(*(queue.run(functools.partial(create, i)) for i in range(1000)))
        assert got == list(range(1000))
        assert queue.peak == ceiling and queue.active == 0 and not queue._waiting

    _run(scenario)
