"""Streamed downloads of job assets: straight from the HTTP response into a temporary file
in the target folder, length-checked, content-checked (``_content``), renamed atomically;
memory stays flat."""

from __future__ import annotations

from pathlib import Path

import httpx2
import openai

from ._content import HEAD_BYTES, check_content
from ._errors import SoraMediaError
from ._fs import atomic_path
from ._types import Variant

__all__ = ["stream_download"]

CHUNK = 1 << 16


async def stream_download(
    client: openai.AsyncOpenAI, video_id: str, variant: Variant, target: Path, *,
    server: str = "the backend",
) -> Path:
    """Download ``variant`` of ``video_id`` to ``target`` (atomic; checks Content-Length,
    and that the file is the kind ``variant`` names: else ``SoraContentError`` naming
    ``server``, and nothing is kept)."""
    with atomic_path(target) as tmp:
        async with client.videos.with_streaming_response.download_content(
            video_id, variant=variant
        ) as response:
            # Content-Length counts encoded bytes: compare only an unencoded body.
            encoded = response.headers.get("content-encoding", "identity") != "identity"
            expected = None if encoded else response.headers.get("content-length")
            content_type = response.headers.get("content-type")
            written = 0
            head = b""
            try:
                with tmp.open("wb") as fh:
                    async for chunk in response.iter_bytes(CHUNK):
                        if len(head) < HEAD_BYTES:
                            head += chunk[: HEAD_BYTES - len(head)]
                            if len(head) >= HEAD_BYTES:  # refuse early, before the rest
                                check_content(head, variant, content_type, server=server,
                                              video_id=video_id)
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
            raise SoraMediaError(f"{server} sent an empty {variant} for {video_id}")
        if len(head) < HEAD_BYTES:  # a file shorter than the head: check what there is
            check_content(head, variant, content_type, server=server, video_id=video_id)
    return target
