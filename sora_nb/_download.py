"""Streamed downloads of job assets: straight from the HTTP response into a temporary file
in the target folder, length-checked, renamed atomically; memory stays flat."""

from __future__ import annotations

from pathlib import Path

import httpx2
import openai

from ._errors import SoraMediaError
from ._fs import atomic_path
from ._types import Variant

__all__ = ["stream_download"]

CHUNK = 1 << 16


async def stream_download(
    client: openai.AsyncOpenAI, video_id: str, variant: Variant, target: Path
) -> Path:
    """Download ``variant`` of ``video_id`` to ``target`` (atomic; checks Content-Length)."""
    with atomic_path(target) as tmp:
        async with client.videos.with_streaming_response.download_content(
            video_id, variant=variant
        ) as response:
            # Content-Length counts encoded bytes: compare only an unencoded body.
            encoded = response.headers.get("content-encoding", "identity") != "identity"
            expected = None if encoded else response.headers.get("content-length")
            written = 0
            try:
                with tmp.open("wb") as fh:
                    async for chunk in response.iter_bytes(CHUNK):
                        fh.write(chunk)
                        written += len(chunk)
            except httpx2.TransportError as exc:
                # A connection dropped mid-body is an SDK connection error (retried).
                raise openai.APIConnectionError(request=response.http_request) from exc
        if expected is not None and int(expected) != written:
            raise SoraMediaError(
                f"download of {variant} of {video_id} was cut short: "
                f"{written} of {expected} bytes arrived"
            )
        if written == 0:
            raise SoraMediaError(f"the backend sent an empty {variant} for {video_id}")
    return target
