"""The aiohttp application of the local server: the OpenAI Videos routes, Bearer auth,
fault injection and the request log, all in one middleware around the handlers."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from aiohttp import web

from ._dialect_base import Dialect
from ._server_content import content_response
from ._server_errors import ApiError, invalid
from ._server_faults import FaultInjector, RequestFault
from ._server_jobs import JobRunner, Renderer, moderation_failure
from ._server_params import (
    EXTENSION_SECONDS,
    MAX_BODY_BYTES,
    Upload,
    prompt_of,
    read_body,
    reject_unknown,
    seconds_of,
    video_of,
)
from ._server_store import Job, JobStore
from ._server_uploads import create_character, get_character, upload_source

__all__ = ["RequestLog", "RequestRecord", "ServerContext", "build_app"]

log = logging.getLogger("sora_nb.local")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestRecord(NamedTuple):
    """One request the server saw. ``status`` is 0 when the connection was dropped."""

    method: str
    route: str
    status: int


class RequestLog:
    """Thread-safe record of every request: method, route template, status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def record(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._records.append(RequestRecord(method, route, status))

    def count(self, method: str | None = None, route: str | None = None,
              status: int | None = None) -> int:
        """How many requests matched; ``None`` matches anything.
        E.g. ``count("GET", "/v1/videos/{video_id}")``."""
        return sum(
            1 for r in self.records()
            if (method is None or r.method == method.upper())
            and (route is None or r.route == route)
            and (status is None or r.status == status)
        )

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __repr__(self) -> str:
        return f"<RequestLog {len(self)} requests>"


@dataclass
class ServerContext:
    """Everything the handlers share; lives on the server's event loop."""

    api_key: str = field(repr=False)
    store: JobStore
    renderer: Renderer
    runner: JobRunner
    faults: FaultInjector
    requests: RequestLog
    job_seconds: float
    poll_after_ms: int | None
    latency: float = 0.0
    retry_after: float = 1.0
    #: Which server this one answers as (ids, fields, routes, errors): see _server_dialects.
    dialect: Dialect = field(default_factory=Dialect)
    #: Seconds after completion until a job's assets expire (None: the 24 h of expires_at).
    expire_after: float | None = None

    # Handlers -----------------------------------------------------------------------------

    def job_or_404(self, video_id: str, param: str | None = None) -> Job:
        job = self.dialect.find(video_id, self.store.get)
        if job is None:
            raise self.dialect.not_found(video_id, param)
        return job

    def video_response(self, job: Job, *, created: bool = False) -> web.Response:
        now = time.time()
        headers = {}
        if not job.terminal and self.dialect.poll_hints:
            headers["openai-poll-after-ms"] = str(self.poll_after(job, now))
        body = self.dialect.video(job, now, answer_to_create=created)
        return web.json_response(body, headers=headers)

    def poll_after(self, job: Job, now: float) -> int:
        """The configured interval, else a tenth of the remaining time within 100..1000 ms."""
        if self.poll_after_ms is not None:
            return self.poll_after_ms
        remaining = job.created_at + job.job_seconds - now
        return int(min(1000, max(100, remaining * 100)))

    async def create(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        created = self.dialect.parse_create(body, form=request.content_type != "application/json")
        req = created.request
        reference = None
        if req.reference is not None and req.reference_ext is not None:
            reference = self.store.save_upload(req.reference, req.reference_ext)
        return await self._new_job(
            request, created.fingerprint,
            dict(prompt=req.prompt, model=req.model, size=req.size, seconds=req.seconds,
                 reference=reference, **created.fields),
        )

    async def remix(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        reject_unknown(body, ("prompt",))
        prompt = prompt_of(body)
        source = self._completed_source(request.match_info["video_id"], "video_id")
        return await self._new_job(
            request, f"remix:{source.id}:{prompt}",
            dict(prompt=prompt, model=source.model, size=source.size, seconds=source.seconds,
                 kind="remix", source_id=source.id,
                 # behind a gateway: the upstream's raw id (tests/gateway)
                 remixed_from=source.upstream_id or source.id,
                 source_key=source.render_key),
        )

    async def edit(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        reject_unknown(body, ("prompt", "video"))
        prompt = prompt_of(body)
        source, origin = await self._source(video_of(body))
        return await self._new_job(request, f"edit:{origin}:{prompt}",
                                   dict(prompt=prompt, kind="edit", **source))

    async def extend(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        reject_unknown(body, ("prompt", "seconds", "video"))
        prompt = prompt_of(body)
        added = seconds_of(body, EXTENSION_SECONDS, None)
        source, origin = await self._source(video_of(body))
        source["seconds"] = str(int(source["seconds"]) + int(added))
        return await self._new_job(request, f"extend:{origin}:{added}:{prompt}",
                                   dict(prompt=prompt, kind="extend", **source))

    async def _source(self, video: str | Upload) -> tuple[dict[str, Any], str]:
        """The job fields an edit or extension takes from its source (a completed video of
        this server, or an uploaded file), and a name of the source for the fingerprint."""
        if isinstance(video, Upload):
            fields = await upload_source(self.store, video)
            return fields, f"upload:{fields['source_upload']}"
        job = self._completed_source(video, "video")
        return dict(model=job.model, size=job.size, seconds=job.seconds, source_id=job.id,
                    source_key=job.render_key), job.id

    async def create_character(self, request: web.Request) -> web.Response:
        return await create_character(self.store, request)

    async def get_character(self, request: web.Request) -> web.Response:
        return await get_character(self.store, request)

    def _completed_source(self, video_id: str, param: str) -> Job:
        source = self.job_or_404(video_id, param)
        if source.status != "completed" or source.render_key is None:
            raise ApiError(
                400,
                f"Video '{video_id}' is {source.status}; only a completed video can be the "
                "source of a remix, edit or extension.",
                param=param, code="invalid_source_video",
            )
        return source

    async def _new_job(self, request: web.Request, fingerprint: str,
                       fields: dict[str, Any]) -> web.Response:
        """Create a job, unless this request's Idempotency-Key already made one."""
        key = request.headers.get("Idempotency-Key") if self.dialect.honours_idempotency else None
        scope = f"{request.method} {request.path}"
        if key:
            known = self.store.idempotent(scope, key)
            if known is not None:
                if known[0] != fingerprint:
                    raise ApiError(
                        400,
                        "This Idempotency-Key was already used with different parameters; "
                        "use a fresh key for a new request.",
                        code="idempotency_key_reused",
                    )
                return self.video_response(self.job_or_404(known[1]))
        failure = moderation_failure(fields["prompt"]) or self.faults.draw_job_failure()
        video_id, upstream_id = self.dialect.new_id(fields["model"])
        job = Job(
            id=video_id,
            upstream_id=upstream_id,
            expire_after=self.expire_after,
            seq=self.store.next_seq(),
            created_at=time.time(),
            job_seconds=self.job_seconds,
            planned_failure=(
                dict(at=failure.at, code=failure.code, message=failure.message)
                if failure else None
            ),
            **fields,
        )
        self.store.add(job)
        if key:
            self.store.remember(scope, key, fingerprint, job.id)
        self.runner.start(job)
        return self.video_response(job, created=True)

    async def retrieve(self, request: web.Request) -> web.Response:
        return self.video_response(self.job_or_404(request.match_info["video_id"]))

    async def list_videos(self, request: web.Request) -> web.Response:
        if "list" not in self.dialect.operations:
            raise self.dialect.unsupported("list")
        query = request.query
        reject_unknown(dict(query), ("limit", "after", "order"))
        raw_limit = query.get("limit", "20")
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = -1
        if not 0 <= limit <= 100:  # OpenAI's spec allows 0 (an empty page)
            raise invalid("limit", raw_limit, "an integer from 0 to 100")
        raw_order = query.get("order", "desc")
        if raw_order not in ("asc", "desc"):
            raise invalid("order", raw_order, "'asc' or 'desc'")
        order: Literal["asc", "desc"] = "asc" if raw_order == "asc" else "desc"
        after = query.get("after")
        try:
            jobs, has_more = self.store.page(limit=limit, after=after, order=order)
        except KeyError:
            raise invalid("after", after, "the id of a video in this list") from None
        now = time.time()
        return web.json_response(self.dialect.list_page({
            "object": "list",
            "data": [self.dialect.video(job, now) for job in jobs],
            "first_id": jobs[0].id if jobs else None,
            "last_id": jobs[-1].id if jobs else None,
            "has_more": has_more,
        }))

    async def delete(self, request: web.Request) -> web.Response:
        video_id = request.match_info["video_id"]
        answer = self.dialect.deleted(self.job_or_404(video_id), time.time())
        self.runner.forget(video_id)
        self.store.delete(video_id)  # a few small files: quick enough for the loop
        return web.json_response(answer)

    async def content(self, request: web.Request) -> web.StreamResponse:
        job = self.job_or_404(request.match_info["video_id"])
        return await content_response(request, job, self.dialect, self.store)

    # Middleware ---------------------------------------------------------------------------

    def authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Latency, then a drawn fault, auth, the handler; every request logged."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        status = 0
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            fault = self.faults.draw_request()
            # A keyed POST meets a drop or 5xx *after* it was handled (the answer is lost on
            # the way back): the case Idempotency-Key exists for. Any other request meets it
            # before anything happens, so an SDK retry can never create a second job.
            after = (fault is not None and fault.kind != "rate_limit"
                     and request.method == "POST" and "Idempotency-Key" in request.headers)
            if fault is not None and fault.kind == "drop" and not after:
                self.inject(fault)
            if not self.authorized(request):
                raise ApiError(
                    401,
                    "Incorrect or missing API key. Pass the key of this local server as "
                    "'Authorization: Bearer <key>' (LocalServer.api_key).",
                    code="invalid_api_key",
                )
            if fault is not None and not after:
                self.inject(fault)
            response = await self.dispatch(request, handler)
            if fault is not None and after:
                self.inject(fault)
            status = response.status
            return response
        except ApiError as exc:
            status = exc.status
            return self.dialect.error(exc)
        finally:
            self.requests.record(request.method, route, status)

    async def dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Run the handler; turn every error into OpenAI's envelope."""
        try:
            return await handler(request)
        except ApiError as exc:
            return self.dialect.error(exc)
        except web.HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status)
            message = f"{exc.reason}: {request.method} {request.path}"
            routing = exc.status in (404, 405)
            if self.dialect.name != "sora" and routing:
                message = str(exc.reason)  # FastAPI-based servers: "Not Found"
            if exc.status == 413:
                message = f"Request body too large (the limit is {MAX_BODY_BYTES} bytes)."
            # RFC 9110 15.5.6: a 405 lists the methods the resource allows.
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            error = ApiError(exc.status, message, code=code, headers=allow)
            return self.dialect.error(error, routing=routing)
        except Exception:
            log.exception("sora_nb.local: error handling %s %s", request.method, request.path)
            return self.dialect.error(ApiError(500, "The local server hit an internal error."))

    def inject(self, fault: RequestFault) -> None:
        if fault.kind == "drop":
            raise asyncio.CancelledError  # aiohttp closes the connection, sends nothing
        if fault.kind == "rate_limit":
            raise ApiError(
                429, "Rate limit reached (injected by the local server's FaultConfig).",
                code="rate_limit_exceeded", headers=self.retry_headers(),
            )
        headers = self.retry_headers() if fault.status == 503 else {}
        raise ApiError(fault.status, "The server had an error while processing your request "
                       "(injected by the local server's FaultConfig).", headers=headers)

    def retry_headers(self) -> dict[str, str]:
        seconds = self.retry_after
        text = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
        return {"retry-after": text, "retry-after-ms": str(round(seconds * 1000))}


def build_app(ctx: ServerContext) -> web.Application:
    app = web.Application(middlewares=[ctx.middleware], client_max_size=MAX_BODY_BYTES)
    routes: list[tuple[str, str, str, Handler]] = [
        ("create", "POST", "/v1/videos", ctx.create),
        ("list", "GET", "/v1/videos", ctx.list_videos),
        ("edit", "POST", "/v1/videos/edits", ctx.edit),
        ("extend", "POST", "/v1/videos/extensions", ctx.extend),
        ("characters", "POST", "/v1/videos/characters", ctx.create_character),
        ("characters", "GET", "/v1/videos/characters/{character_id}", ctx.get_character),
        ("retrieve", "GET", "/v1/videos/{video_id}", ctx.retrieve),
        ("delete", "DELETE", "/v1/videos/{video_id}", ctx.delete),
        ("content", "GET", "/v1/videos/{video_id}/content", ctx.content),
        ("remix", "POST", "/v1/videos/{video_id}/remix", ctx.remix),
    ]
    for operation, method, path, handler in routes:
        # a route the dialect's server lacks is left out: the router answers 404, or 405
        # where another method shares the path (as Starlette does for FastAPI servers)
        if operation in ctx.dialect.operations or operation == "list":
            app.router.add_route(method, path, handler)
    return app
