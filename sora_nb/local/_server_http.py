"""The HTTP layer under the local server's app: aiohttp's runner with the errors that happen
before any route (a request line too long, a malformed header) answered in OpenAI's JSON
error envelope, and the connection timeouts that keep slow clients from locking others out."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ._server_errors import ApiError

__all__ = ["HEADER_TIMEOUT", "EnvelopeRunner"]

log = logging.getLogger("sora_nb.local")

#: Seconds a connection may stay without a complete request head: from its opening, and
#: between requests when kept alive. aiohttp's keep-alive timer also runs from the moment a
#: connection opens (web_protocol.py, ``connection_made``) and closes it if no full request
#: head arrived, so it bounds a slowloris client too. (aiohttp's default is 3630 s: 1,100
#: half-open connections once locked every other client out.)
HEADER_TIMEOUT = 15.0


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _EnvelopeHandler(RequestHandler):
    """aiohttp's connection handler, with errors raised while parsing a request (which never
    reach the app's middleware) answered as JSON instead of text/plain."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response is half sent already
            raise ConnectionError("Response is sent already, cannot send the error")
        if status >= 500:
            log.error("sora_nb.local: error handling a request", exc_info=exc)
            text = "The local server hit an internal error."
        else:  # the client's fault: not worth a traceback on stderr
            log.debug("sora_nb.local: malformed request: %s", message)
            text = f"Malformed HTTP request: {_clip(message or type(exc).__name__)}"
        response = ApiError(status, text, code="malformed_request" if status < 500 else None)
        resp = response.response()
        resp.force_close()
        return resp


class _EnvelopeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _EnvelopeHandler(self, loop=self._loop, **self._kwargs)


class EnvelopeRunner(web.AppRunner):
    """``web.AppRunner`` whose connections use ``_EnvelopeHandler`` and close after
    ``HEADER_TIMEOUT`` seconds without a complete request head."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", HEADER_TIMEOUT)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its Server inside the app (Application._make_handler) and offers no
        # hook for the handler class; the subclass only overrides __call__, so swapping the
        # class of the instance it built keeps everything else aiohttp set up.
        server.__class__ = _EnvelopeServer
        return server
