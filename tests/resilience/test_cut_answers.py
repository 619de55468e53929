"""Answers cut halfway by the network, one at a time: the failure is a retried connection
error (never a raw transport exception) and no half-written file stays behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import pytest

from sora_nb._download import stream_download
from sora_nb.local import MODERATION_MARKER, start

from ._proxy import ProxyFaults, lossy_proxy


def test_a_cut_error_answer_to_a_download_is_a_connection_error(tmp_path: Path) -> None:
    # The job never completes (it is blocked after 30 % of a minute), so its content is
    # answered 400 video_not_ready; the proxy cuts that JSON answer halfway.
    with start(job_seconds=60) as idle, \
            lossy_proxy(idle.base_url, ProxyFaults(cut_download=1.0)) as proxy:
        direct = openai.OpenAI(base_url=idle.base_url, api_key=idle.api_key, max_retries=0)
        with pytest.warns(DeprecationWarning):
            video = direct.videos.create(prompt=f"Never ready {MODERATION_MARKER}")
        client = openai.AsyncOpenAI(base_url=proxy.base_url, api_key=idle.api_key,
                                    max_retries=0)
        target = tmp_path / "media" / "video.mp4"

        async def fetch() -> None:
            try:
                await stream_download(client, video.id, "video", target)
            finally:
                await client.close()

        with pytest.raises(openai.APIConnectionError):
            asyncio.run(fetch())
        assert proxy.counts["cut_download"] == 1
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temp file either
