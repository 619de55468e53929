"""Polling policy: pure delay rules, then the poller against real servers that send
poll-after hints, 429s with retry-after, and 5xx faults, with an injected clock and sleep
(no test here really waits for the delays it checks)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest

import sora_nb as snb
from sora_nb._errors import SoraParameterError
from sora_nb._poller import PollPolicy, backoff_delay, poll_after, retry_after
from sora_nb.local import FaultConfig, LocalServer

RETRIEVE = ("GET", "/v1/videos/{video_id}")


def test_backoff_grows_to_its_cap_with_bounded_jitter() -> None:
    policy = PollPolicy(min_interval=0.5, max_interval=4.0, factor=2.0, jitter=0.1)
    rng = random.Random(7)
    delays = [backoff_delay(policy, n, rng) for n in range(8)]
    for n, delay in enumerate(delays):
        base = min(4.0, 0.5 * 2.0**n)
        assert base * 0.9 <= delay <= base * 1.1
    assert max(delays) <= 4.4


def test_header_parsing() -> None:
    assert poll_after({"openai-poll-after-ms": "250"}) == 0.25
    assert poll_after({"openai-poll-after-ms": "soon"}) is None
    assert poll_after({}) is None
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None


@dataclass
class FakeTime:
    """A clock that only moves when the poller sleeps; each sleep really yields briefly so
    the backend (real time) can make progress, and is recorded."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0.02)

    def policy(self, **kwargs: object) -> PollPolicy:
        return PollPolicy(clock=self.clock, sleep=self.sleep, seed=1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.server(job_seconds=0.6, poll_after_ms=250)
def test_poller_obeys_the_servers_poll_after_on_every_response(
    fresh_server: LocalServer,
) -> None:
    fake = FakeTime()
    # max_wait far away: once the job passes its predicted end the waits grow (fake time)
    snb.configure(poll=fake.policy(min_interval=5.0, max_wait=1e9))
    job = snb.SoraJob("Poll-after everywhere", seconds=4, cache=False).wait()
    assert job.status == "completed"
    # the header (250 ms) is the floor of every wait; the 5 s backoff is never used, and
    # until the progress rate gives an ETA the wait is the header exactly
    assert fake.sleeps and min(fake.sleeps) == 0.25 and fake.sleeps[0] == 0.25
    # the create's answer was the first poll (no GET repeats it), then one retrieve per
    # sleep, the last of which saw the job finished
    assert fresh_server.requests.count(*RETRIEVE) == len(fake.sleeps)


@pytest.mark.server(job_seconds=0.6, faults=FaultConfig(rate_limit_rate=0.5, retry_after=3.0,
                                                         seed=5))
@pytest.mark.slow
def test_rate_limits_wait_retry_after_and_the_job_still_completes(
    fresh_server: LocalServer,
) -> None:
    fake = FakeTime()
    snb.configure(poll=fake.policy(max_failures=50))
    job = snb.SoraJob("Rate limited but patient", seconds=4, cache=False).wait()
    assert job.status == "completed"
    assert 3.0 in fake.sleeps  # waited what retry-after said
    limited = fresh_server.requests.count("GET", "/v1/videos/{video_id}", status=429)
    assert limited >= 1
    assert fake.sleeps.count(3.0) >= limited


@pytest.mark.server(job_seconds=0.6, faults=FaultConfig(server_error_rate=0.3, drop_rate=0.2,
                                                         seed=11))
@pytest.mark.slow
def test_transient_faults_are_retried_and_every_job_completes(
    fresh_server: LocalServer,
) -> None:
    fake = FakeTime()
    snb.configure(poll=fake.policy(max_failures=50))
    jobs = [snb.SoraJob(f"Flaky network, job {n}", seconds=4, cache=False) for n in range(4)]
    assert [job.wait().status for job in jobs] == ["completed"] * 4
    # the POSTs were retried with one idempotency key each: exactly four jobs exist
    listed = {v.id for v in _list_ids(fresh_server)}
    assert {job.id for job in jobs} <= listed and len(listed) == 4


def _list_ids(server: LocalServer) -> list:  # type: ignore[type-arg]
    import warnings

    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return list(client.videos.list(limit=100))


@pytest.mark.server(job_seconds=30.0, poll_after_ms=250)
def test_deadline_stops_polling_and_resume_continues(fresh_server: LocalServer) -> None:
    fake = FakeTime()
    snb.configure(poll=fake.policy(max_wait=1.0))
    job = snb.SoraJob("Longer than the deadline", seconds=4, cache=False)
    with pytest.raises(snb.SoraTimeout) as info:
        job.wait()
    assert info.value.job is job
    snap = job.snapshot()
    assert snap.poll_state == "timed_out" and "resume" in (snap.note or "")
    polls = fresh_server.requests.count(*RETRIEVE)
    # the create's answer was the first poll (no GET repeats it); the deadline passed
    # after the last sleep: no extra poll
    assert polls + 1 == len(fake.sleeps)
    job.resume()
    assert job.snapshot().poll_state == "active"
    with pytest.warns(UserWarning):
        job.cancel()


def test_a_backend_that_goes_away_surfaces_as_a_clear_error_on_the_job(
    fresh_server: LocalServer,
) -> None:
    fake = FakeTime()
    snb.configure(poll=fake.policy(max_failures=3))
    job = snb.SoraJob("The server will vanish", seconds=4, cache=False)
    fresh_server.stop()
    with pytest.raises(snb.SoraConnectionError) as info:
        job.wait()
    assert job.id in str(info.value) and "resume" in str(info.value)
    assert job.snapshot().poll_state == "error"


@pytest.mark.server(job_seconds=0.5, faults=FaultConfig(server_error_rate=1.0, seed=3))
def test_a_long_run_of_failures_surfaces_as_a_clear_error(fresh_server: LocalServer) -> None:
    fake = FakeTime()
    snb.configure(poll=fake.policy(max_failures=3))
    # The local backend honours Idempotency-Key, so 5xx are retried with one key; when
    # they run out, a job may exist (this server makes it before answering 5xx): the
    # error says so and the journal keeps the request as "unknown".
    with pytest.raises(snb.SoraOutcomeUnknown) as info:
        snb.SoraJob("Nothing gets through", seconds=4, cache=False)
    last = info.value.last_error
    assert isinstance(last, snb.SoraAPIError)
    assert last.status_code is not None and last.status_code >= 500
    assert fresh_server.requests.count("POST", "/v1/videos") == 4  # 1 + 3 retries
    assert [e.status for e in snb.history()] == ["unknown"]


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"min_interval": "x"}, "min_interval"),
    ({"min_interval": -1}, "min_interval"),
    ({"max_interval": 0.1}, "max_interval"),
    ({"factor": 0.5}, "factor"),
    ({"jitter": 2}, "jitter"),
    ({"max_wait": -3}, "max_wait"),
    ({"max_failures": -3}, "max_failures"),
    ({"max_failures": 2.5}, "max_failures"),
    ({"sleep": "later"}, "sleep"),
    ({"seed": "s"}, "seed"),
])
def test_a_bad_poll_policy_is_refused_at_once(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(SoraParameterError) as info:
        PollPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.param == param
    assert PollPolicy(max_wait=float("inf")).max_wait == float("inf")  # no limit is fine
