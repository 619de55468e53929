"""Fault injection and idempotency: each fault kind as the SDK sees it, seeded sequences
that repeat, SDK retries that never make a second job, failed and moderated jobs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import httpx2
import openai
import pytest

from sora_nb._errors import SoraParameterError
from sora_nb._fs import TEMP_PATTERN
from sora_nb.local import MODERATION_MARKER, FaultConfig, LocalServer, start
from sora_nb.local._server_faults import FaultInjector, RequestFault

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MakeClient = Callable[..., openai.OpenAI]
#: Jobs never rendered (they fail at 30 % of a minute): faults, not renders, are tested here.
UNRENDERED = f"{MODERATION_MARKER} "


def seed_where(config: FaultConfig, wanted: list[str | None]) -> int:
    """A seed whose first requests meet the ``wanted`` fault kinds (None: no fault)."""
    for seed in range(10_000):
        injector = FaultInjector(FaultConfig(**{**config.__dict__, "seed": seed}))
        drawn: list[RequestFault | None] = [injector.draw_request() for _ in wanted]
        if [d.kind if d else None for d in drawn] == wanted:
            return seed
    raise AssertionError(f"no seed gives {wanted}")


def jobs_on(server: LocalServer) -> int:
    """The jobs on the server's disk, not the temporary file of one being rewritten (pathlib's
    glob does not hide dot files)."""
    files = (server.data_dir / "jobs").glob("*.json")
    return sum(not TEMP_PATTERN.match(path.name) for path in files)


@pytest.mark.slow
def test_seeded_fault_sequences_repeat() -> None:
    config = FaultConfig(rate_limit_rate=0.3, server_error_rate=0.3, drop_rate=0.2,
                         retry_after=0.01, seed=11)
    runs = []
    for _ in range(2):
        with start(faults=config) as server:
            for _ in range(30):
                with contextlib.suppress(httpx2.TransportError):  # the dropped ones
                    httpx2.get(f"{server.base_url}/videos",
                               headers={"Authorization": f"Bearer {server.api_key}"})
            runs.append([r.status for r in server.requests.records()])
    assert runs[0] == runs[1]
    assert {0, 429, 200} <= set(runs[0]) and set(runs[0]) & {500, 502, 503}


def test_rate_limit_is_429_with_retry_after(sdk: MakeClient) -> None:
    with start(faults=FaultConfig(rate_limit_rate=1.0, retry_after=2.5, seed=1)) as server:
        with pytest.raises(openai.RateLimitError) as err:
            sdk(server).videos.list()
        assert err.value.status_code == 429 and err.value.code == "rate_limit_exceeded"
        headers = err.value.response.headers
        assert (headers["retry-after"], headers["retry-after-ms"]) == ("2.5", "2500")


def test_server_errors_are_internal_server_errors(sdk: MakeClient) -> None:
    with start(faults=FaultConfig(server_error_rate=1.0, retry_after=0.01, seed=3)) as server:
        client = sdk(server)
        statuses = set()
        for _ in range(12):
            with pytest.raises(openai.InternalServerError) as err:
                client.videos.list()
            statuses.add(err.value.status_code)
            assert err.value.type == "server_error"
        assert statuses == {500, 502, 503}


def test_dropped_connections_are_connection_errors(sdk: MakeClient) -> None:
    with start(faults=FaultConfig(drop_rate=1.0, seed=5)) as server:
        with pytest.raises(openai.APIConnectionError):
            sdk(server).videos.list()
        assert server.requests.count("GET", "/v1/videos", status=0) == 1


@pytest.mark.parametrize("kind", ["drop", "server_error", "rate_limit"])
def test_sdk_retry_of_a_faulted_create_makes_one_job(sdk: MakeClient, kind: str) -> None:
    rates = {"drop": "drop_rate", "server_error": "server_error_rate",
             "rate_limit": "rate_limit_rate"}
    base = FaultConfig(**{rates[kind]: 0.5}, retry_after=0.01)  # type: ignore[arg-type]
    seed = seed_where(base, [kind, None, None])
    with start(job_seconds=60, faults=FaultConfig(**{**base.__dict__, "seed": seed})) as server:
        video = sdk(server, max_retries=2).videos.create(prompt=UNRENDERED + "retried")
        assert [r.status for r in server.requests.records()][:1] != [200]
        assert server.requests.count("POST", "/v1/videos", status=200) == 1
        assert jobs_on(server) == 1
        assert sdk(server).videos.retrieve(video.id).id == video.id


@pytest.mark.parametrize("kind", ["drop", "server_error"])
def test_lost_answer_to_a_keyed_create_is_recovered_by_the_retry(sdk: MakeClient,
                                                                 kind: str) -> None:
    # With an Idempotency-Key the fault strikes after the job was made: only the key
    # keeps the SDK's retry from making a second one.
    rate = "drop_rate" if kind == "drop" else "server_error_rate"
    base = FaultConfig(**{rate: 0.5}, retry_after=0.01)  # type: ignore[arg-type]
    seed = seed_where(base, [kind, None, None])
    with start(job_seconds=60, faults=FaultConfig(**{**base.__dict__, "seed": seed})) as server:
        client = sdk(server, max_retries=2)
        video = client.videos.create(prompt=UNRENDERED + "keyed",
                                     extra_headers={"Idempotency-Key": "create-once"})
        assert server.requests.count("POST", "/v1/videos") == 2
        assert jobs_on(server) == 1
        assert [v.id for v in client.videos.list()] == [video.id]


def test_idempotency_key_returns_the_same_job(idle_server: LocalServer, sdk: MakeClient) -> None:
    client = sdk(idle_server)
    first = client.videos.create(prompt=UNRENDERED + "once",
                                 extra_headers={"Idempotency-Key": "k1"})
    again = client.videos.create(prompt=UNRENDERED + "once",
                                 extra_headers={"Idempotency-Key": "k1"})
    other = client.videos.create(prompt=UNRENDERED + "once",
                                 extra_headers={"Idempotency-Key": "k2"})
    assert first.id == again.id != other.id
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt=UNRENDERED + "changed",
                             extra_headers={"Idempotency-Key": "k1"})
    assert err.value.code == "idempotency_key_reused"
    assert jobs_on(idle_server) == 2


def test_failure_rate_fails_jobs_after_some_progress(sdk: MakeClient) -> None:
    with start(job_seconds=0, faults=FaultConfig(failure_rate=1.0, seed=2)) as server:
        client = sdk(server)
        video = client.videos.create_and_poll(prompt="Doomed", poll_interval_ms=10)
        assert video.status == "failed" and video.error is not None
        assert video.error.code == "internal_error" and "failure_rate" in video.error.message
        assert 20 <= video.progress <= 80
        with pytest.raises(openai.BadRequestError) as err:
            client.videos.download_content(video.id)
        assert err.value.code == "video_not_ready" and "failed" in err.value.message


@pytest.mark.slow
def test_moderation_marker_fails_the_job_after_progress(sdk: MakeClient) -> None:
    # The server runs a job on the wall clock: queued for 10 % of it (2 s at most), blocked
    # at 30 %. A job of 1 s was in progress for 0.2 s, and a loaded machine took 0.35 s
    # for one request: 13 runs in 40 never saw it running. A job of 20 s is in progress
    # from 2 s to 6 s: four seconds for the loop below to see it, at any poll cadence.
    with start(job_seconds=20.0, poll_after_ms=200) as server:
        client = sdk(server)
        video = client.videos.create(prompt=f"A storm {MODERATION_MARKER} at sea")
        seen = [(video.status, video.progress)]
        while video.status not in ("completed", "failed"):
            raw = client.videos.with_raw_response.retrieve(video.id)
            video = raw.parse()
            seen.append((video.status, video.progress))
            if video.status in ("queued", "in_progress"):
                time.sleep(int(raw.headers["openai-poll-after-ms"]) / 1000)
        assert video.status == "failed" and video.error is not None
        assert video.error.code == "moderation_blocked"
        assert MODERATION_MARKER in video.error.message and "moderation" in video.error.message
        assert any(status == "in_progress" and progress > 0 for status, progress in seen)
        assert video.progress == 30
        assert not any((server.data_dir / "renders").iterdir())  # never rendered


def test_latency_is_added_to_every_request(sdk: MakeClient) -> None:
    # A lower bound that asyncio.sleep guarantees, not a speed assertion.
    with start(faults=FaultConfig(latency=0.2)) as server:
        began = time.monotonic()
        sdk(server).videos.list()
        assert time.monotonic() - began >= 0.2


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"failure_rate": 1.5}, "failure_rate"), ({"drop_rate": -0.1}, "drop_rate"),
     ({"latency": -1}, "latency"), ({"retry_after": float("inf")}, "retry_after"),
     ({"seed": "7"}, "seed"), ({"rate_limit_rate": True}, "rate_limit_rate")],
)
def test_fault_config_rejects_bad_values(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(SoraParameterError) as err:
        FaultConfig(**kwargs)  # type: ignore[arg-type]
    assert err.value.param == param and param in str(err.value)
