"""Download memory: sora_nb's streamed ``job.download()`` against the SDK's whole-body
``download_content().content``, on the same file in the same run (peak traced allocations)."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
import warnings

import openai

import sora_nb as snb
from sora_nb import local


def peak_of(fn: object) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()  # type: ignore[operator]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    os.environ.setdefault("SORA_NB_CACHE_DIR", tempfile.mkdtemp(prefix="bench-dl-"))
    with local.start(job_seconds=0) as server:
        snb.configure(backend="local", base_url=server.base_url, api_key=server.api_key,
                      cache_dir=tempfile.mkdtemp(prefix="bench-dl-cache-"))
        job = snb.SoraJob("A long wide clip for the download benchmark", model="sora-2-pro",
                          seconds=12, size="1792x1024", cache=False).wait()
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            whole = peak_of(lambda: client.videos.download_content(job.id).content)
        streamed = peak_of(lambda: job.download())
        size = job.download().stat().st_size
    print(f"file size            {size / 1e6:8.2f} MB")
    print(f"SDK whole-body peak  {whole / 1e6:8.2f} MB  ({whole / size:.2f}x the file)")
    print(f"sora_nb stream peak  {streamed / 1e6:8.2f} MB  ({streamed / size:.2f}x the file)")
    print(f"ratio stream/whole   {streamed / whole:.3f}")


if __name__ == "__main__":
    main()
