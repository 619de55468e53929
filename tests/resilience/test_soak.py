"""The soak: 100 jobs through a lossy proxy in front of an embedded server that misbehaves
on its own. Nothing may be lost (every job the server made is journaled and known to
``history()``), nothing duplicated (one server job per ``SoraJob``), no file corrupt (each
MP4 decodes and equals the server's bytes), no temp file left behind.

Real parts throughout: the real SDK over real HTTP through a real proxy to the real server.
"""

from __future__ import annotations

import asyncio
import hashlib
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

import sora_nb as snb
from sora_nb import _config
from sora_nb._ffmpeg import probe
from sora_nb.local import FaultConfig, LocalServer, start

from ._proxy import LossyProxy, ProxyFaults, lossy_proxy
from ._report import Ledger

pytestmark = pytest.mark.slow

SEED = 20261130
JOBS = 100
#: Four distinct requests: the server renders each once (identical requests give
#: byte-identical files), which keeps the soak about the client, not the renderer.
PROMPTS = tuple(f"Soak clip {name}" for name in ("amber", "cobalt", "jade", "ruby"))
SERVER_FAULTS = FaultConfig(
    failure_rate=0.05, rate_limit_rate=0.05, server_error_rate=0.05, drop_rate=0.02,
    retry_after=0.05, seed=SEED,
)
PROXY_FAULTS = ProxyFaults(
    lost_create=0.2, cut_download=0.3, server_error=0.2, rate_limit=0.1, drop=0.05,
    retry_after=0.05, seed=SEED,
)
#: Quick retries, and enough of them that ~40 % faulty requests never exhaust them.
POLICY = snb.PollPolicy(min_interval=0.05, max_interval=0.3, max_failures=40, seed=SEED)


@pytest.fixture()
def soak(cache: Path) -> Iterator[tuple[LocalServer, LossyProxy]]:
    with start(job_seconds=0.5, poll_after_ms=100, faults=SERVER_FAULTS) as server, \
            lossy_proxy(server.base_url, PROXY_FAULTS) as proxy:
        snb.configure(backend="local", base_url=proxy.base_url, api_key=server.api_key,
                      poll=POLICY)
        try:
            yield server, proxy
        finally:
            _config.reset_settings()


def _server_jobs(server: LocalServer) -> list[str]:
    """Every job id the server holds, asked directly (not through the proxy)."""
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [video.id for video in client.videos.list(limit=100)]


def _reference_digests(server: LocalServer, jobs: list[snb.SoraJob]) -> dict[str, str]:
    """sha256 of the server's own MP4 for each prompt, downloaded directly."""
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=30)
    digests: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for job in jobs:
            if job.status == "completed" and job.prompt not in digests:
                data = client.videos.download_content(job.id).read()
                digests[job.prompt] = hashlib.sha256(data).hexdigest()
    return digests


async def _run(n: int) -> tuple[list[snb.SoraJob], list[Path | BaseException]]:
    jobs = await asyncio.gather(*(
        snb.SoraJob.async_create(PROMPTS[i % len(PROMPTS)], seconds=4, size="720x1280",
                            enhance=False, cache=False)
        for i in range(n)
    ))
    results = await asyncio.gather(*(job.async_download() for job in jobs), return_exceptions=True)
    return list(jobs), list(results)


def temp_files(root: Path) -> list[Path]:
    """Files a writer left half-done: sora_nb's temp names are hidden (``.name.hex.ext``)."""
    return [p for p in root.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".part")]


def test_soak_100_jobs_through_a_lossy_proxy(
    soak: tuple[LocalServer, LossyProxy], cache: Path, ledger: Ledger
) -> None:
    server, proxy = soak
    jobs, results = asyncio.run(_run(JOBS))

    # Every outcome is a file or the server's own planned failure; nothing else.
    failed = [job for job, r in zip(jobs, results, strict=True) if isinstance(r, BaseException)]
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, BaseException):
            assert isinstance(result, snb.SoraJobFailed), (job.id, repr(result))
            assert result.code == "internal_error", result
    files = [r for r in results if isinstance(r, Path)]
    assert len(files) + len(failed) == JOBS

    # Nothing lost, nothing duplicated: the server made exactly one job per SoraJob, and the
    # journal knows each of them, with its final status.
    ids = {job.id for job in jobs}
    assert len(ids) == JOBS
    on_server = _server_jobs(server)
    assert len(on_server) == len(set(on_server)) == JOBS
    assert set(on_server) == ids
    journal = {entry.id: entry for entry in snb.history(include_deleted=True)}
    assert set(journal) == ids
    for job in jobs:
        assert journal[job.id].status == job.status, job.id
    created_ok = server.requests.count("POST", "/v1/videos", 200)
    assert created_ok >= JOBS  # replays of a lost answer return the same job (idempotency)

    # No corrupt file: each MP4 equals the server's bytes for its request and decodes.
    reference = _reference_digests(server, jobs)
    by_path = {r: job for job, r in zip(jobs, results, strict=True) if isinstance(r, Path)}
    for path, job in by_path.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == reference[job.prompt], path
    with ThreadPoolExecutor(max_workers=2) as pool:
        infos = list(pool.map(lambda p: probe(p, decode=True), files))
    for info in infos:
        assert (info.width, info.height, info.frames) == (720, 1280, 96), info
        assert info.has_audio

    # No temp file anywhere in the cache dir.
    assert temp_files(cache) == []

    faults = Counter({k: v for k, v in proxy.counts.items() if k not in ("requests", "forwarded")})
    server_faults = Counter(
        str(r.status) if r.status else "dropped" for r in server.requests.records()
        if r.status in (0, 429, 500, 502, 503)
    )
    struck = ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
    ledger.record(
        "soak", f"{JOBS} jobs created concurrently, waited and downloaded through a lossy proxy",
        f"proxy per request: lost create answer {PROXY_FAULTS.lost_create:.0%} of creates, "
        f"cut download {PROXY_FAULTS.cut_download:.0%} of downloads, 5xx "
        f"{PROXY_FAULTS.server_error:.0%}, 429 {PROXY_FAULTS.rate_limit:.0%} "
        f"(retry-after {PROXY_FAULTS.retry_after:g} s), dropped {PROXY_FAULTS.drop:.0%}; "
        f"server: failed jobs {SERVER_FAULTS.failure_rate:.0%}, 5xx "
        f"{SERVER_FAULTS.server_error_rate:.0%}, 429 {SERVER_FAULTS.rate_limit_rate:.0%}, "
        f"dropped {SERVER_FAULTS.drop_rate:.0%}; seed {SEED}",
        f"{JOBS}/{JOBS} jobs on the server and in history(), 0 duplicates, 0 lost; every "
        "MP4 decoded and equal to the server's bytes; 0 temp files left",
        f"{proxy.counts['requests']} requests through the proxy ({struck}); server faults "
        f"{dict(sorted(server_faults.items()))}; {len(failed)} jobs failed on purpose, "
        f"{len(files)} downloaded",
    )
