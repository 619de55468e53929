"""The Videos API calls a job makes (create, derive, retrieve, list, delete, download), each
retried by the poller's rules, journaled where it creates a job, and failing as ``SoraError``.

No job state lives here: ``SoraJob`` calls these with its backend and id and keeps what they
return. The functions run on the runtime loop (``runtime.client`` is per loop)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

import openai
from openai.types import Video
from openai.types.video_edit_params import VideoVideoReferenceInputParam

from . import _store
from ._config import Backend
from ._download import stream_download
from ._errors import from_sdk
from ._params import VideoParams
from ._poller import PollPolicy, TransientFailure, with_retries
from ._runtime import runtime
from ._types import Variant

__all__ = [
    "DeriveKind",
    "create_video",
    "delete_video",
    "derive_video",
    "download_asset",
    "find_reusable",
    "journal_created",
    "list_videos",
    "retrieve_video",
    "retrieve_with_headers",
    "sdk_call",
]

T = TypeVar("T")
DeriveKind = Literal["remix", "extend", "edit"]
#: The endpoints of the derivations the SDK cannot send as JSON (see ``derive_video``).
_JSON_PATHS: dict[DeriveKind, str] = {"edit": "/videos/edits", "extend": "/videos/extensions"}


async def sdk_call(call: Callable[[], Awaitable[T]], policy: PollPolicy) -> T:
    """``with_retries`` whose failures come out as ``SoraError``s (key-free)."""
    try:
        return await with_retries(call, policy)
    except TransientFailure as exc:
        raise from_sdk(exc.last) from None
    except openai.APIError as exc:
        raise from_sdk(exc) from None


def _idempotency() -> dict[str, str]:
    return {"Idempotency-Key": f"sora-nb-{uuid.uuid4().hex}"}


async def find_reusable(backend: Backend, cache_key: str, policy: PollPolicy
                        ) -> tuple[_store.HistoryEntry, Video] | None:
    """The newest journaled job made from an identical request and the backend's current
    ``Video`` of it, if it still exists there, has not failed and has not expired; else
    ``None`` (also when the backend cannot be reached: then a new job is made)."""
    entry = _store.find_cached(cache_key)
    if entry is None:
        return None
    client = runtime.client(backend)
    try:
        video = await with_retries(lambda: client.videos.retrieve(entry.id), policy)
    except (openai.NotFoundError, TransientFailure):
        return None
    except openai.APIError as exc:
        raise from_sdk(exc) from None
    expired = video.expires_at is not None and video.expires_at <= time.time()
    return None if video.status == "failed" or expired else (entry, video)


async def create_video(backend: Backend, params: VideoParams, cache_key: str,
                       policy: PollPolicy) -> Video:
    """Create a job and journal it before anything else: a paid-for generation is never
    lost. One idempotency key for every retry, so a retried create makes one job."""
    client = runtime.client(backend)
    headers = _idempotency()
    kwargs = params.create_kwargs()

    async def create_and_journal() -> Video:
        video = await sdk_call(
            lambda: client.videos.create(**kwargs, extra_headers=headers), policy
        )
        journal_created(video, backend, params.original_prompt, "create", cache_key)
        return video

    # Shielded: an interrupt (Ctrl-C in a cell) cannot stop a create half-way, after the
    # server accepted it but before the journal has it.
    return await asyncio.shield(create_and_journal())


async def derive_video(backend: Backend, source_id: str, kind: DeriveKind, sent: str,
                       original: str, seconds: int | None, policy: PollPolicy) -> Video:
    """Remix, extend or edit ``source_id`` with the prompt ``sent`` (``original`` is what
    the user wrote); the new job is journaled with its lineage."""
    client = runtime.client(backend)
    headers = _idempotency()
    source: VideoVideoReferenceInputParam = {"id": source_id}
    # The SDK's videos.edit()/extend() reject a {"id": ...} video reference (openai 3.57
    # treats the field as a file upload only), so those two go as JSON through the same
    # client's generic post(); remix has no file field and works as is.
    body: dict[str, object] = {"prompt": sent, "video": source}
    if seconds is not None:
        body["seconds"] = str(seconds)
    path = _JSON_PATHS.get(kind)

    def call() -> Awaitable[Video]:
        if path is None:
            return client.videos.remix(source_id, prompt=sent, extra_headers=headers)
        return client.post(path, cast_to=Video, body=body, options={"headers": headers})

    video = await sdk_call(call, policy)
    journal_created(video, backend, original, kind, None, remixed_from=source_id)
    return video


async def retrieve_video(backend: Backend, video_id: str, policy: PollPolicy) -> Video:
    """The backend's current ``Video`` for ``video_id``."""
    client = runtime.client(backend)
    return await sdk_call(lambda: client.videos.retrieve(video_id), policy)


async def retrieve_with_headers(backend: Backend, video_id: str) -> tuple[Video, object]:
    """One poll: the ``Video`` and the response headers (for ``openai-poll-after-ms``).
    Not retried here: the poller's loop retries it."""
    raw = await runtime.client(backend).videos.with_raw_response.retrieve(video_id)
    return raw.parse(), raw.headers


async def list_videos(backend: Backend, limit: int, policy: PollPolicy) -> list[Video]:
    """The backend's ``limit`` (at most 100) newest jobs."""
    client = runtime.client(backend)
    page = await sdk_call(lambda: client.videos.list(limit=min(limit, 100)), policy)
    return list(page.data)


async def delete_video(backend: Backend, video_id: str, policy: PollPolicy) -> None:
    """Delete the job on the backend, journal it, and drop its cached downloads here."""
    client = runtime.client(backend)
    await sdk_call(lambda: client.videos.delete(video_id), policy)
    _store.journal_event("deleted", id=video_id)
    _store.remove_media(video_id)


async def download_asset(backend: Backend, video_id: str, variant: Variant,
                         policy: PollPolicy) -> Path:
    """The cached file of ``variant``, downloaded (streamed, retried) if not there yet."""
    target = _store.media_path(video_id, variant)
    if target.exists():
        return target
    client = runtime.client(backend)
    return await sdk_call(lambda: stream_download(client, video_id, variant, target), policy)


def journal_created(video: Video, backend: Backend, original_prompt: str, kind: str,
                    cache_key: str | None, remixed_from: str | None = None) -> None:
    """Journal a job this process created or first saw (``kind``: create, remix, extend,
    edit or attached)."""
    _store.record_created(_store.HistoryEntry(
        id=video.id, prompt=video.prompt or original_prompt, original_prompt=original_prompt,
        model=str(video.model), seconds=int(video.seconds), size=str(video.size),
        backend=backend.identity, created_at=time.time(), status=video.status,
        progress=int(video.progress or 0), remixed_from=remixed_from or
        video.remixed_from_video_id, kind=kind, cache_key=cache_key,
    ))
