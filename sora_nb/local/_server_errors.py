"""The local server's error envelope: ``ApiError`` (OpenAI's ``{"error": {message, type,
param, code}}``) and the errors that name the parameter, the value and what is allowed."""

from __future__ import annotations

from aiohttp import web

from .._errors import redact

__all__ = ["ApiError", "invalid", "missing", "quoted", "too_large"]

_ERROR_TYPES = {401: "invalid_request_error", 429: "requests"}


class ApiError(Exception):
    """An error answered in OpenAI's envelope ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    @property
    def type(self) -> str:
        if self.status >= 500:
            return "server_error"
        return _ERROR_TYPES.get(self.status, "invalid_request_error")

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
        response = web.json_response(body, status=self.status, headers=self.headers)
        if self.status in (408, 413):  # the rest of the body is never read: close
            response.force_close()
        return response


def invalid(param: str, value: object, allowed: str, code: str = "invalid_value") -> ApiError:
    """400 for a bad value, naming the parameter, the value and what is allowed."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ApiError(
        400, f"Invalid value for '{param}': {shown}. Allowed: {allowed}.", param=param, code=code
    )


def missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def too_large(limit: int, what: str = "Request body") -> ApiError:
    return ApiError(413, f"{what} too large (the limit is {limit} bytes).",
                    code="request_too_large")

