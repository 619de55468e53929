"""Polling at scale: the delay rule against the SDK's ``create_and_poll`` (a deterministic
simulation of a job whose progress moves with time, through the real decision functions),
the pure bulk decisions, and bulk status against the embedded server: one list for many
jobs, a per-job GET where a server has no list, and the same result for observers."""

from __future__ import annotations

import asyncio
import random

import pytest

import sora_nb as snb
from sora_nb import _bulk, _capabilities
from sora_nb._bulk import LIST_PAGE, list_finished, listed_delay, use_list, wakes_early
from sora_nb._jobstate import remaining_seconds
from sora_nb._poller import OVERDUE_AT_FLOOR, PollPolicy, next_poll_delay, track_overdue
from sora_nb._runtime import runtime
from sora_nb.local import LocalServer

RETRIEVE = ("GET", "/v1/videos/{video_id}")
LIST = ("GET", "/v1/videos")


def _hint_ms(remaining: float) -> int:
    """The embedded server's hint (``_server_app.poll_after``): a tenth of the time left,
    within 100..1000 ms."""
    return int(min(1000, max(100, remaining * 100)))


def _poll_job(length: float, rule: str, start: float = 0.0) -> tuple[int, float, float]:
    """Poll a job of ``length`` seconds whose progress moves with time, as ``rule`` does
    (``"sdk"``: the first hint, kept, as ``AsyncVideos.poll`` in openai/resources/videos.py;
    ``"sora_nb"``: ``next_poll_delay`` with the job's ETA). Returns the polls, how late
    completion was seen, and the hint sent just before the end. ``start``: when the first
    poll comes (the phase of the polls against the job's whole percents)."""
    policy, rng = PollPolicy(seed=1), random.Random(1)
    t, polls, overdue, fixed, end_at, widest = start, 0, 0, None, None, 0.0
    first: tuple[float, int] | None = None
    while True:
        polls += 1
        if t >= length:
            return polls, t - length, _hint_ms(0.0) / 1000
        progress = int(100 * t / length)
        if first is None and t > 0:
            first = (t, progress)
        headers = {"openai-poll-after-ms": str(_hint_ms(length - t))}
        if rule == "sdk":
            fixed = fixed if fixed is not None else _hint_ms(length - t) / 1000
            t += fixed
            continue
        eta = remaining_seconds(first, t, progress, "in_progress", until=99)  # JobState._eta
        latest = remaining_seconds(first, t, progress, "in_progress")  # ... _eta_latest
        widest = max(widest, _hint_ms(length - t) / 1000)
        delay = next_poll_delay(policy, headers, polls - 1, rng, eta, overdue, widest)
        end_at, overdue = track_overdue(end_at, overdue, t, eta, delay, latest)
        t += delay


@pytest.mark.parametrize("length", [3.0, 12.0, 60.0])
def test_fewer_polls_than_the_sdk_helper_and_completion_seen_within_the_hint(
    length: float,
) -> None:
    sdk, sdk_late, _ = _poll_job(length, "sdk")
    assert sdk_late >= 0
    # at every phase of the polls against the job's whole percents: a 60 s job spends
    # 0.6 s at 99 %, which once counted as overdue (polls backed off, completion seen up
    # to 225 ms after it, against a 100 ms hint)
    for start in [n * 0.037 for n in range(27)]:
        ours, late, hint = _poll_job(length, "sora_nb", start)
        assert ours <= sdk, (start, ours, sdk)
        assert late <= hint + 1e-9, (start, late, hint)


def test_the_hint_is_a_floor_and_the_eta_halves_the_distance() -> None:
    policy, rng = PollPolicy(max_interval=10.0), random.Random(1)
    hint = {"openai-poll-after-ms": "500"}
    assert next_poll_delay(policy, hint, 0, rng) == 0.5  # no ETA: the hint
    assert next_poll_delay(policy, hint, 0, rng, eta=6.0) == 3.0  # half the time left
    assert next_poll_delay(policy, hint, 0, rng, eta=0.4) == 0.5  # never under the hint
    assert next_poll_delay(policy, hint, 0, rng, eta=600.0) == 10.0  # capped
    # past the predicted end the floor grows by policy.factor per poll
    late = next_poll_delay(policy, hint, 0, rng, eta=0.0, overdue=OVERDUE_AT_FLOOR + 2)
    assert late == pytest.approx(0.5 * policy.factor**2)
    # ... but never past the longest hint the job was sent (the SDK's interval)
    assert next_poll_delay(policy, hint, 0, rng, eta=0.0, overdue=40, ceiling=1.0) == 1.0


def test_bulk_decisions() -> None:
    assert not use_list(2, 2, True)  # the last few jobs: GETs
    assert use_list(3, 3, True)
    assert not use_list(50, 50, False)  # no list on this server
    assert not use_list(3, 1000, True)  # 10 pages for 3 due jobs: GETs are cheaper
    assert use_list(10, 1000, True)
    assert wakes_early(0.4, 1.0) and not wakes_early(0.6, 1.0)
    # due before the next round could answer it: answered by this one, in step
    assert wakes_early(0.9, 1.0, horizon=0.45) and not wakes_early(0.9, 1.0, horizon=0.3)
    assert list_finished(0, True, 100.0, 50.0)  # every wanted job seen
    assert list_finished(2, False, 100.0, 50.0)  # the list ended
    assert list_finished(2, True, 40.0, 50.0)  # past the oldest wanted job
    assert not list_finished(2, True, 49.5, 50.0)  # same second: one more page
    assert LIST_PAGE == 100
    # a job a list answers keeps the server's interval, where the ETA would stretch it
    assert listed_delay(10.0, 1.0, listable=True) == 1.0
    assert listed_delay(10.0, 1.0, listable=False) == 10.0  # polled by GET: the ETA rule
    assert listed_delay(0.5, 1.0, listable=True) == 0.5  # never longer than chosen
    assert listed_delay(10.0, None, listable=True) == 10.0  # no hint: as chosen


@pytest.mark.slow
@pytest.mark.server(job_seconds=2.0, poll_after_ms=200)
def test_several_jobs_in_flight_are_polled_with_one_list(fresh_server: LocalServer) -> None:
    snb.configure(poll=PollPolicy(max_interval=0.5))
    jobs = [snb.SoraJob(f"Bulk {i}", seconds=4, cache=False, enhance=False) for i in range(6)]
    for job in jobs:
        job.wait()
    assert all(job.status == "completed" for job in jobs)
    lists = fresh_server.requests.count(*LIST)
    gets = fresh_server.requests.count(*RETRIEVE)
    assert lists >= 1
    sched = _bulk._schedulers[jobs[0].backend.connection_key]
    assert sched.counts["listed"] > 0 and sched.in_flight == 0
    # every job still polled by GET at least once (its first poll, and near its end)
    assert gets >= len(jobs)
    # same answers for observers: what a list shows of a job is what a GET shows
    client = runtime.client(jobs[0].backend)

    async def both() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        page = await client.videos.list(limit=100, order="desc")
        listed = {v.id: v.model_dump() for v in page.data}
        got = [(await client.videos.retrieve(j.id)).model_dump() for j in jobs]
        return [listed[j.id] for j in jobs], got

    listed, retrieved = runtime.run(both())
    assert listed == retrieved
    assert [job.video.model_dump() for job in jobs] == retrieved


@pytest.mark.slow
@pytest.mark.server(job_seconds=1.0, dialect="gateway")
def test_a_server_without_a_list_is_polled_by_get(fresh_server: LocalServer) -> None:
    snb.configure(poll=PollPolicy(min_interval=0.1, max_interval=0.3))
    jobs = [snb.SoraJob(f"Gateway {i}", seconds=4, cache=False, enhance=False)
            for i in range(4)]
    for job in jobs:
        job.wait()
    assert all(job.status == "completed" for job in jobs)
    # the list was asked at most once (400 from the gateway), then remembered
    assert fresh_server.requests.count(*LIST) <= 1
    assert _capabilities.lacking(jobs[0].backend.identity, "list") == (
        fresh_server.requests.count(*LIST) == 1)
    assert fresh_server.requests.count(*RETRIEVE) >= 2 * len(jobs)


def test_a_new_server_on_a_reused_port_is_polled_with_its_own_key(cache: object) -> None:
    # CI once saw a 401 here: the scheduler of the old server (same URL, older key) polled
    # the new one. Two servers on one port, one after the other, each with its own key.
    from sora_nb import _config
    from sora_nb.local import start

    try:
        with start(job_seconds=0.3, poll_after_ms=50) as first:
            port = first.port
            snb.configure(backend="local", base_url=first.base_url, api_key=first.api_key)
            assert snb.SoraJob("On the first server", seconds=4, cache=False).wait()
        with start(job_seconds=0.3, poll_after_ms=50, port=port) as second:
            assert second.base_url == first.base_url and second.api_key != first.api_key
            snb.configure(backend="local", base_url=second.base_url, api_key=second.api_key)
            job = snb.SoraJob("On the second server", seconds=4, cache=False).wait()
            assert job.status == "completed"
    finally:
        _config.reset_settings()


@pytest.mark.server(job_seconds=1.5, poll_after_ms=100)
def test_two_jobs_of_one_id_both_see_it_finish(fresh_server: LocalServer) -> None:
    # Running the same cell twice reuses the in-flight job: two SoraJob objects then poll
    # one id. Each must be followed on its own (once, one of them stayed "queued" forever:
    # the scheduler kept one entry per id, and the first to finish removed the other's).
    for n in range(4):
        first = snb.SoraJob(f"Rain on a tin roof, take {n}", seconds=4)
        second = snb.SoraJob(f"Rain on a tin roof, take {n}", seconds=4)
        assert second.id == first.id and second is not first
        assert second.wait(timeout=60).status == "completed"
        assert first.wait(timeout=60).status == "completed"


@pytest.mark.server(job_seconds=3600.0, poll_after_ms=600_000)
def test_attach_many_gets_each_job_once_and_polls_on_from_that_answer(
    fresh_server: LocalServer,
) -> None:
    import warnings

    import openai

    client = openai.OpenAI(base_url=fresh_server.base_url, api_key=fresh_server.api_key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ids = [client.videos.create(prompt=f"Made elsewhere {i}", seconds="4").id
               for i in range(5)]
    jobs = snb.SoraJob.attach_many(ids)
    assert [job.id for job in jobs] == ids
    seen: list[str] = []
    for job in jobs:
        job.on_progress(lambda snap: seen.append(snap.id))
    # one GET per job, and that GET was each job's first poll: with a 10-minute hint no
    # second request follows (before, the polling loop asked again at once)
    sched = _bulk._schedulers[jobs[0].backend.connection_key]
    runtime.run(asyncio.sleep(0.2))  # let every polling task take its first poll
    assert sched.in_flight == len(ids)
    assert fresh_server.requests.count(*RETRIEVE) == len(ids)
    assert fresh_server.requests.count(*LIST) == 0
    assert all(job.status in ("queued", "in_progress") for job in jobs)
    # followed objects come back as they are (no request); every one is journaled
    assert snb.SoraJob.attach_many(ids[::-1]) == jobs[::-1]
    assert fresh_server.requests.count(*RETRIEVE) == len(ids)
    journaled = {e.id: e.kind for e in snb.history()}
    assert all(journaled[i] == "attached" for i in ids)
    for job in jobs:
        with pytest.warns(UserWarning):
            job.cancel()
    with pytest.raises(snb.SoraParameterError) as info:
        snb.SoraJob.attach_many("video_abc")
    assert info.value.param == "video_ids"
    with pytest.raises(snb.SoraParameterError) as info:  # a bad item names the list too
        snb.SoraJob.attach_many([ids[0], "../etc"])
    assert info.value.param == "video_ids" and "item 1" in str(info.value)
