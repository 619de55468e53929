"""Creating many jobs: the sweep's cartesian rule, batch validation, and the create queue
against the embedded server (bounded concurrency, a 429 slowing every create, and 1,000
creates that return before the jobs exist)."""

from __future__ import annotations

import warnings

import pytest

import sora_nb as snb
from sora_nb import _many
from sora_nb._many import CREATE_CONCURRENCY, expand_sweep
from sora_nb.local import MODERATION_MARKER, FaultConfig, LocalServer

CREATE = ("POST", "/v1/videos")


def test_a_sweep_is_the_cartesian_product_in_keyword_order() -> None:
    got = expand_sweep(["a", "b"], {"seconds": [4, 8], "size": (1280, 720),
                                    "seed": range(2), "enhance": False})
    assert len(got) == 2 * 2 * 2
    assert got[0] == ("a", {"seconds": 4, "size": (1280, 720), "enhance": False,
                            "extra": {"seed": 0}})
    assert got[1][1]["extra"] == {"seed": 1}  # the last swept keyword varies fastest
    assert got[2][1]["seconds"] == 8 and got[4][0] == "b"
    # a keyword outside JobOptions goes in extra, merged with an extra= given
    merged = expand_sweep("p", {"extra": {"fps": 8}, "seed": [1]})
    assert merged == [("p", {"extra": {"fps": 8, "seed": 1}})]


def test_sweep_and_batch_name_what_is_wrong() -> None:
    with pytest.raises(snb.SoraParameterError, match="seconds"):
        expand_sweep("p", {"seconds": []})
    with pytest.raises(snb.SoraParameterError, match="prompt"):
        expand_sweep([], {})
    with pytest.raises(snb.SoraParameterError, match=r"^requests=.*\(request 1 of the list\)"):
        snb.batch([{"prompt": "ok"}, {"seconds": 4}])
    with pytest.raises(snb.SoraParameterError, match="requests"):
        snb.batch({"prompt": "not a list"})  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.server(job_seconds=0.5, poll_after_ms=100, faults=FaultConfig(latency=0.05))
def test_batch_creates_a_few_at_a_time(fresh_server: LocalServer) -> None:
    # blocked prompts: the server never renders them (40 renders would only slow the test
    # down; what is tested is how many creates run at once)
    grid = snb.batch([{"prompt": f"Batch {i} {MODERATION_MARKER}", "seconds": 4,
                       "cache": False} for i in range(40)])
    jobs = grid.jobs  # waits for the creates
    assert len({job.id for job in jobs}) == 40
    queue = _many._queues[jobs[0].backend.identity]
    assert 1 < queue.peak <= CREATE_CONCURRENCY < 40  # the bound held
    assert fresh_server.requests.count(*CREATE) == 40
    for job in jobs:
        with pytest.raises(snb.SoraJobFailed):
            job.wait()


@pytest.mark.slow
@pytest.mark.server(job_seconds=0.5, poll_after_ms=100,
                    faults=FaultConfig(rate_limit_rate=0.3, retry_after=0.3, seed=3))
def test_a_429_slows_the_queue_for_every_create(fresh_server: LocalServer) -> None:
    snb.configure(poll=snb.PollPolicy(max_failures=50))
    grid = snb.sweep([f"Rate limited {i}" for i in range(8)], seconds=[4, 8], cache=False)
    jobs = grid.jobs
    assert len({job.id for job in jobs}) == 16
    queue = _many._queues[jobs[0].backend.identity]
    # the first request is always a create and the seeded first draw is a 429; the queue
    # heard every create's 429 and none of the polls' (it paces creates only)
    records = fresh_server.requests.records()
    limited = sum(1 for r in records if r.method == "POST" and r.status == 429)
    assert limited >= 1
    assert queue.rate_limited == limited
    # the limit was halved by the 429s and each success regrew it by one
    assert queue.limit <= CREATE_CONCURRENCY
    assert fresh_server.requests.count(*CREATE) >= 16 + limited


@pytest.mark.slow
@pytest.mark.server(job_seconds=3600)
def test_a_thousand_creates_return_before_the_jobs_exist(fresh_server: LocalServer) -> None:
    grid = snb.batch([{"prompt": "Many at once", "seconds": 4, "cache": False,
                       "enhance": False}] * 1000)
    # the call returned while (most of) the creates still wait in the queue
    assert not all(slot.created for slot in grid.slots)
    assert "waiting to be created" in repr(grid)
    assert "waiting to be created" in grid._repr_html_()
    jobs = grid.jobs
    assert len({job.id for job in jobs}) == 1000
    assert fresh_server.requests.count(*CREATE) == 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for job in jobs:
            job.cancel()


@pytest.mark.server(job_seconds=3600, poll_after_ms=600_000)
def test_creates_are_sent_from_sender_threads_and_journaled_first(
    fresh_server: LocalServer,
) -> None:
    # the runtime thread awaits each create while a sender thread (the SDK's blocking
    # client) sends it; every job is journaled with its id and its idempotency key, and
    # the create's answer is its first poll (no GET follows within a 10-minute hint)
    import threading

    from sora_nb._runtime import runtime

    jobs = snb.batch([{"prompt": f"Sent {i}", "seconds": 4, "cache": False}
                      for i in range(3)]).jobs
    senders = [t for t in threading.enumerate() if t.name.startswith("sora_nb-send")]
    assert senders and not any(t is runtime._thread for t in senders)
    assert fresh_server.requests.count(*CREATE) == 3
    journaled = {e.id: e for e in snb.history()}
    assert all(journaled[j.id].idempotency_key for j in jobs)
    assert fresh_server.requests.count("GET", "/v1/videos/{video_id}") == 0
    for job in jobs:
        with pytest.warns(UserWarning):
            job.cancel()
