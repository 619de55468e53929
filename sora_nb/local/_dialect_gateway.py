"""The gateway dialect: a LiteLLM proxy in front of this server, as measured in
tests/gateway (ids, dropped headers and routes, LiteLLM's error envelope)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ._dialect_base import Dialect, fastapi_detail
from ._server_errors import ApiError
from ._server_store import Job

__all__ = ["LITELLM_VERSION", "Gateway", "ProxyError"]

#: The LiteLLM version whose behaviour the gateway dialect reproduces (tests/gateway).
LITELLM_VERSION = "1.110.2"


class ProxyError(ApiError):
    """An error the gateway itself answers (not one it relays from the upstream)."""


class Gateway(Dialect):
    """A LiteLLM proxy (1.110.2) in front of this server, as measured in tests/gateway: what
    the client sees is the Sora API rewritten by the proxy."""

    name = "gateway"
    # GET /v1/videos answers 400 (no provider in the request); DELETE is not routed (405)
    operations = frozenset({"create", "retrieve", "content", "remix", "edit", "extend"})
    poll_hints = False  # dropped, as retry-after and etag (tests/gateway)
    honours_idempotency = False  # neither honoured nor forwarded upstream (tests/gateway)
    honours_variant = False  # every variant returns the MP4 (tests/gateway)
    cache_headers = False  # the download has no ETag or Last-Modified (tests/gateway)

    def __init__(self) -> None:
        #: The deployment id LiteLLM appends: a sha256 hex of the model's entry.
        self.deployment = hashlib.sha256(secrets.token_bytes(16)).hexdigest()

    def new_id(self, model: str) -> tuple[str, str | None]:
        # encode_video_id_with_provider (litellm/types/videos/utils.py): "video_" + base64 of
        # SpecialEnums.LITELLM_MANAGED_VIDEO_COMPLETE_STR (litellm/types/utils.py) with the
        # deployment id appended, as measured: 266 characters ending in "==" for our ids
        upstream = f"video_{secrets.token_hex(24)}"
        text = (f"litellm:custom_llm_provider:openai;model_id:{model};video_id:{upstream};"
                f"deployment_id:{self.deployment}")
        return "video_" + base64.b64encode(text.encode()).decode(), upstream

    def find(self, video_id: str, lookup: Callable[[str], Job | None]) -> Job | None:
        if _decode_litellm_id(video_id) is None:
            # not one of its ids: the proxy sends it to its default provider, unreachable here
            raise ProxyError(
                500, "litellm.InternalServerError: InternalServerError: OpenAIException - "
                "Cannot connect to host api.openai.com:443 [Name or service not known]")
        return lookup(video_id)

    def video(self, job: Job, now: float, *, answer_to_create: bool = False) -> dict[str, Any]:
        # VideoObject (litellm/types/videos/main.py): no prompt; usage on create and remix
        # answers only; remixed_from_video_id is the upstream's raw id (tests/gateway)
        body = super().video(job, now)
        body.pop("prompt", None)
        body["usage"] = ({"duration_seconds": float(job.seconds)}
                         if answer_to_create and job.kind in ("create", "remix") else None)
        return body

    def error(self, exc: ApiError, *, routing: bool = False) -> web.Response:
        if routing:
            return fastapi_detail(exc)  # FastAPI's router, e.g. DELETE: 405 {"detail": ...}
        if exc.status == 401:
            # without a database an unknown key is "No connected db." (tests/gateway)
            return _litellm_error(400, "No connected db.", "no_db_connection")
        if isinstance(exc, ProxyError):
            kind = "internal_server_error" if exc.status >= 500 else "invalid_request_error"
            return _litellm_error(exc.status, exc.message, kind)
        # an upstream error: status kept, the upstream's envelope quoted in the message, param
        # dropped, code = the status as a string, retry headers dropped (tests/gateway)
        name = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError",
                422: "UnprocessableEntityError"}.get(exc.status, "InternalServerError")
        upstream = json.dumps({"error": {"message": exc.message, "type": exc.type,
                                         "param": exc.param, "code": exc.code}})
        message = (f"litellm.{name}: OpenAIException - {upstream}\n\nLiteLLM: model group "
                   "'sora-2' failed with the error above. No fallback was attempted.")
        kind = "internal_server_error" if exc.status >= 500 else "invalid_request_error"
        return _litellm_error(exc.status, message, kind)

    def unsupported(self, operation: str) -> ApiError:
        # GET /v1/videos without a model: litellm cannot pick a provider (tests/gateway)
        return ProxyError(
            400, "litellm.BadRequestError: LLM Provider NOT provided. Pass in the LLM provider "
            "you are trying to call. You passed model=\n Pass model as E.g. For 'Huggingface' "
            "inference endpoints pass in `completion(model='huggingface/starcoder',..)` Learn "
            "more: https://docs.litellm.ai/docs/providers")


def _litellm_error(status: int, message: str, kind: str) -> web.Response:
    """LiteLLM's envelope: param null, code the HTTP status as a string (tests/gateway)."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
    return web.json_response(body, status=status)


def _decode_litellm_id(video_id: str) -> str | None:
    if not video_id.startswith("video_"):
        return None
    try:
        text = base64.b64decode(video_id[6:], validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return text if text.startswith("litellm:custom_llm_provider:") else None

