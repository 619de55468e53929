"""The Videos API calls a job makes (create, derive, retrieve, list, delete, download), each
retried by the poller's rules, journaled where it creates a job, and failing as ``SoraError``.

No job state lives here: ``SoraJob`` calls these with its backend and id and keeps what they
return. The functions run on the runtime loop (``runtime.client`` is per loop)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

import openai
from openai.types import Video
from openai.types.video_edit_params import VideoVideoReferenceInputParam

from . import _capabilities, _store
from ._config import Backend
from ._create import PendingCreate, journaled_create
from ._download import stream_download
from ._errors import SoraAPIError, SoraContentError, SoraError, SoraUnsupported, from_sdk
from ._ids import check_server_id
from ._journal import NOT_REUSABLE
from ._journal_write import upsert
from ._params import VideoParams
from ._poller import PollPolicy, TransientFailure, with_retries
from ._runtime import runtime
from ._types import Variant, normalize_status
from ._wire import entry_from_video, time_of

__all__ = [
    "DeriveKind",
    "async_journal_created",
    "capable_call",
    "create_video",
    "delete_video",
    "derive_video",
    "download_asset",
    "find_reusable",
    "list_videos",
    "retrieve_polled",
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
    if check_server_id(video.id, server=backend.label) != entry.id:
        return None  # the server answered for another job: do not reuse it
    expires = time_of(video.expires_at)
    expired = expires is not None and expires <= time.time()
    status = normalize_status(video.status)
    return None if status in NOT_REUSABLE or expired else (entry, video)


async def create_video(backend: Backend, params: VideoParams, cache_key: str,
                       policy: PollPolicy) -> tuple[Video, object | None]:
    """Create a job, journaled before it is sent (``pending``) and completed with its id:
    a paid-for generation is never lost. One idempotency key for every attempt; retried
    only when that cannot make a second job (``_create.send_create``); an ambiguous failure
    raises ``SoraOutcomeUnknown`` and leaves the entry as ``unknown``. Returns the job and
    the answer's headers (its poll hint: the answer is the job's first poll), or ``None``
    for a create sent as JSON."""
    client = runtime.client(backend)
    kwargs = params.create_kwargs()
    request: dict[str, object] = {k: v for k, v in kwargs.items() if k != "input_reference"}
    if params.reference is not None:
        request["input_reference"] = {"filename": params.reference.filename,
                                      "sha256": params.reference.sha256}
    pending = PendingCreate(
        prompt=params.prompt, original_prompt=params.original_prompt,
        # a generic server's own defaults are not known before it answers
        model=params.model or "", seconds=params.seconds or 0, size=params.size or "",
        kind="create", cache_key=cache_key,
        request=request,
    )
    # Shielded: an interrupt (Ctrl-C in a cell) cannot stop a create half-way, after the
    # server accepted it but before the journal has it.
    def as_json() -> Awaitable[Video]:
        return client.post("/videos", cast_to=Video, body=params.json_body(),
                           options={"headers": pending.headers})

    answered: list[object] = []

    async def send() -> Video:
        if params.reference is None and _capabilities.lacking(backend.identity, "form"):
            return await as_json()
        try:
            blocking = runtime.sync_client(backend).videos.with_raw_response
            raw = await runtime.send_blocking(
                lambda: blocking.create(**kwargs, extra_headers=pending.headers))
            answered.append(raw.headers)
            return raw.parse()
        except openai.APIStatusError as exc:
            if params.reference is not None or not _capabilities.needs_json(exc):
                raise
        # SGLang's multipart create requires a reference image; text-to-video goes as JSON
        # (sgl-project/sglang docs/diffusion/openai_api.md). A 400 proves nothing was made,
        # so this second request, with the same key, cannot pay twice.
        _capabilities.mark_lacking(backend.identity, "form")
        return await as_json()

    video, _ = await asyncio.shield(journaled_create(backend, pending, send, policy))
    return video, answered[-1] if answered else None


async def derive_video(backend: Backend, source_id: str, kind: DeriveKind, sent: str,
                       original: str, seconds: int | None, policy: PollPolicy) -> Video:
    """Remix, extend or edit ``source_id`` with the prompt ``sent`` (``original`` is what
    the user wrote); journaled like a create, with its lineage taken from here (not from
    a field a gateway may rewrite)."""
    client = runtime.client(backend)
    source: VideoVideoReferenceInputParam = {"id": source_id}
    # The SDK's videos.edit()/extend() reject a {"id": ...} video reference (openai 3.57
    # treats the field as a file upload only), so those two go as JSON through the same
    # client's generic post(); remix has no file field and works as is.
    body: dict[str, object] = {"prompt": sent, "video": source}
    if seconds is not None:
        body["seconds"] = str(seconds)
    path = _JSON_PATHS.get(kind)
    pending = PendingCreate(
        prompt=sent, original_prompt=original, model="", seconds=seconds or 0, size="",
        kind=kind, remixed_from=source_id, request={"kind": kind, **body},
    )

    def call() -> Awaitable[Video]:
        if path is None:
            return client.videos.remix(source_id, prompt=sent, extra_headers=pending.headers)
        return client.post(path, cast_to=Video, body=body,
                           options={"headers": pending.headers})

    _capabilities.require(backend.identity, kind, backend.label)
    try:
        video, _ = await asyncio.shield(journaled_create(backend, pending, call, policy))
    except SoraAPIError as exc:
        status = _capabilities.refusal_status(exc, kind)
        if status is None or (status == 404 and not await _still_there(backend, source_id,
                                                                        policy)):
            raise
        _capabilities.mark_lacking(backend.identity, kind)
        raise SoraUnsupported(kind, backend.label, status_code=status) from None
    return video


async def capable_call(backend: Backend, operation: _capabilities.Operation,
                       call: Callable[[], Awaitable[T]], policy: PollPolicy, *,
                       video_id: str | None = None) -> T:
    """``sdk_call(call)``, where an answer saying the server lacks ``operation`` becomes
    ``SoraUnsupported`` (remembered, so that server is not asked again). A 404 about
    ``video_id`` counts only if the video is still there (else the video is gone)."""
    _capabilities.require(backend.identity, operation, backend.label)
    try:
        return await with_retries(call, policy)
    except TransientFailure as exc:
        raise from_sdk(exc.last) from None
    except openai.APIError as exc:
        status = _capabilities.refusal_status(exc, operation)
        if status is None or (status == 404 and video_id is not None
                              and not await _still_there(backend, video_id, policy)):
            raise from_sdk(exc) from None
        _capabilities.mark_lacking(backend.identity, operation)
        raise SoraUnsupported(operation, backend.label, status_code=status) from None


async def _still_there(backend: Backend, video_id: str, policy: PollPolicy) -> bool:
    client = runtime.client(backend)
    try:
        await with_retries(lambda: client.videos.retrieve(video_id), policy)
    except (openai.APIError, TransientFailure):
        return False
    return True


async def retrieve_polled(backend: Backend, video_id: str, policy: PollPolicy
                          ) -> tuple[Video, object]:
    """The backend's current ``Video`` for ``video_id`` (whose id must be usable) and the
    response headers: an attach's GET, which its polling then takes as its first poll (its
    hint included) instead of asking again."""
    polled = await sdk_call(lambda: retrieve_with_headers(backend, video_id), policy)
    check_server_id(polled[0].id, server=backend.label)
    return polled


async def retrieve_with_headers(backend: Backend, video_id: str) -> tuple[Video, object]:
    """One poll: the ``Video`` and the response headers (for ``openai-poll-after-ms``).
    Not retried here: the poller's loop retries it."""
    raw = await runtime.client(backend).videos.with_raw_response.retrieve(video_id)
    return raw.parse(), raw.headers


async def list_videos(backend: Backend, limit: int, policy: PollPolicy) -> list[Video]:
    """The backend's ``limit`` (at most 100) newest jobs (``SoraUnsupported`` without a list)."""
    client = runtime.client(backend)
    page = await capable_call(backend, "list", lambda: client.videos.list(limit=min(limit, 100)),
                              policy)
    return list(page.data)


async def delete_video(backend: Backend, video_id: str, policy: PollPolicy) -> None:
    """Delete the job on the backend, journal it, and drop its cached downloads here.
    ``SoraUnsupported`` (and nothing changed) on a server without delete."""
    client = runtime.client(backend)
    await capable_call(backend, "delete", lambda: client.videos.delete(video_id), policy,
                       video_id=video_id)
    _store.journal_event("deleted", id=video_id)
    _store.remove_media(video_id)


async def download_asset(backend: Backend, video_id: str, variant: Variant,
                         policy: PollPolicy,
                         made_locally: Callable[[Variant], None] | None = None) -> Path:
    """The cached file of ``variant``, downloaded (streamed, retried, checked to be what
    ``variant`` names) if not there yet. A server without thumbnails or spritesheets (a
    404/400/405, or the MP4 sent in their place) gets them made from the MP4 here, and
    ``made_locally(variant)`` is told."""
    target = _store.media_path(video_id, variant)
    if target.exists():
        return target
    if variant != "video" and _capabilities.lacking(backend.identity, variant):
        return await _make_still(backend, video_id, variant, target, policy, made_locally)
    client = runtime.client(backend)
    try:
        return await sdk_call(lambda: stream_download(
            client, video_id, variant, target, server=backend.label), policy)
    except SoraContentError as exc:
        # A server that ignores ``variant`` answers with the MP4 (LiteLLM 1.110.2, measured
        # in tests/gateway; vLLM-Omni's download_video): make the still here.
        if variant == "video" or exc.found != "mp4":
            raise
    except SoraError as exc:
        if variant == "video" or getattr(exc, "status_code", None) not in (400, 404, 405):
            raise
    _capabilities.mark_lacking(backend.identity, variant)
    return await _make_still(backend, video_id, variant, target, policy, made_locally)


async def _make_still(backend: Backend, video_id: str, variant: Variant, target: Path,
                      policy: PollPolicy, made_locally: Callable[[Variant], None] | None
                      ) -> Path:
    # Deferred: _stills runs ffmpeg, needed only for servers without stills.
    from ._stills import make_spritesheet, make_thumbnail

    video = await download_asset(backend, video_id, "video", policy)
    make = make_thumbnail if variant == "thumbnail" else make_spritesheet
    path = await asyncio.to_thread(make, video, target)
    if made_locally is not None:
        made_locally(variant)
    return path


async def async_journal_created(video: Video, backend: Backend, kind: str) -> None:
    """Journal a job this process first saw by id (``kind`` ``attached``: no prompt or
    cache key), reading the server's answer leniently; ``video.id`` must have passed
    ``check_server_id``. Awaited: the loop runs on during the commit, which many attaches
    at once share (``_journal_write``)."""
    await _store.journal().async_write(upsert, entry_from_video(
        video, video_id=video.id, backend=backend.identity, original_prompt=None,
        kind=kind, cache_key=None, remixed_from=None, created_at=time.time(),
    ))
