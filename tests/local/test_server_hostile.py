"""Hostile and malformed input to the local server: every such request gets a 4xx in
OpenAI's error envelope (never a 500), on every route that reads a body; and a prompt of any
shape renders in bounded work. Each check records its counts for RELIABILITY.md."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from reliability import record

import sora_nb.local.server as server_module
from sora_nb.local import LocalServer, start
from sora_nb.local._font import ELLIPSIS, font, wrap

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ENVELOPE = {"message", "type", "param", "code"}
PART = b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
MULTIPART = "multipart/form-data; boundary=b"
#: (name, content type, body) of requests no route may answer with a 5xx.
MALFORMED: list[tuple[str, str, bytes]] = [
    ("invalid UTF-8 in a form field", MULTIPART, PART + b"\xff\xfe bad\r\n--b--\r\n"),
    ("multipart without a boundary", "multipart/form-data", PART + b"x\r\n--b--\r\n"),
    ("garbage multipart", MULTIPART, b"\x00\x01garbage\r\n--b\r\n\r\n\r\n"),
    ("part header without a colon", MULTIPART, b"--b\r\nno colon here\r\n\r\nx\r\n--b--\r\n"),
    ("non-token part header name", MULTIPART,
     b'--b\r\nContent Disposition: form-data; name="prompt"\r\n\r\nx\r\n--b--\r\n'),
    ("non-token extra part header", MULTIPART, PART[:-2] + b"X(y): z\r\n\r\nx\r\n--b--\r\n"),
    ("100,000 nested [", "application/json", b"[" * 100_000),
    ("100,000 nested [ in a field", "application/json", b'{"prompt": ' + b"[" * 100_000),
    ("JSON that is not UTF-8", "application/json", b'{"prompt": "\xff"}'),
    ("JSON that is not an object", "application/json", b'["prompt"]'),
    ("truncated JSON", "application/json", b'{"prompt": "a'),
]
ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "create": ("/videos", {}),
    "remix": ("/videos/video_x/remix", {}),
    "edits": ("/videos/edits", {"video": {"id": "video_x"}}),
    "extensions": ("/videos/extensions", {"video": {"id": "video_x"}, "seconds": "4"}),
}


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LocalServer]:
    """A server whose renders are three tiny files (tests/local/stand_in_render.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(server_module, "_render_module", "stand_in_render")
        with start(job_seconds=0, poll_after_ms=20, workers=1) as server:
            yield server


def auth(server: LocalServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def is_envelope(response: httpx2.Response) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (response.headers.get("content-type", "").startswith("application/json")
            and set(error) == ENVELOPE and isinstance(error["message"], str))


@pytest.mark.parametrize("route", list(ROUTES))
def test_malformed_bodies_are_400_in_the_envelope(stand_in: LocalServer, route: str) -> None:
    path, _ = ROUTES[route]
    failures = []
    for name, ctype, body in MALFORMED:
        response = httpx2.post(f"{stand_in.base_url}{path}", content=body,
                               headers={**auth(stand_in), "Content-Type": ctype})
        if response.status_code != 400 or not is_envelope(response):
            failures.append((name, response.status_code, response.text[:120]))
    record(f"server.malformed_bodies.{route}", tried=len(MALFORMED),
           held=len(MALFORMED) - len(failures), note="400 in the OpenAI envelope, never 5xx")
    assert failures == []


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_lone_surrogate_in_a_prompt_is_refused_at_once(stand_in: LocalServer,
                                                         route: str) -> None:
    path, extra = ROUTES[route]
    body = json.dumps({"prompt": "A cat \ud800 on a mat", **extra})  # ASCII: "\\ud800"
    response = httpx2.post(f"{stand_in.base_url}{path}", content=body.encode(),
                           headers={**auth(stand_in), "Content-Type": "application/json"})
    assert response.status_code == 400 and is_envelope(response)
    error = response.json()["error"]
    assert error["param"] == "prompt" and "surrogate" in error["message"]


def test_list_allows_limit_zero(stand_in: LocalServer) -> None:
    client = openai.OpenAI(base_url=stand_in.base_url, api_key=stand_in.api_key, max_retries=0)
    page = client.videos.list(limit=0)
    assert page.data == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/videos", {"GET", "POST"}), ("PATCH", "/videos/video_x", {"GET", "DELETE"}),
     ("DELETE", "/videos/video_x/content", {"GET"}), ("GET", "/videos/edits", None),
     ("PUT", "/videos/video_x/remix", {"POST"})],
)
def test_every_405_carries_allow(stand_in: LocalServer, method: str, path: str,
                                 allowed: set[str] | None) -> None:
    response = httpx2.request(method, f"{stand_in.base_url}{path}", headers=auth(stand_in))
    assert is_envelope(response)
    if allowed is None:  # GET /videos/edits is GET /videos/{video_id}: an unknown id
        assert response.status_code == 404
        return
    assert response.status_code == 405
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def raw_request(server: LocalServer, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_errors_before_routing_use_the_envelope(stand_in: LocalServer) -> None:
    cases = {
        "request line too long": b"GET /v1/videos?x=" + b"a" * 20_000 + b" HTTP/1.1\r\n"
                                 b"Host: x\r\n\r\n",
        "header too long": b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000
                           + b"\r\n\r\n",
        "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
        "bad header name": b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
    }
    held = 0
    for name, data in cases.items():
        head, _, body = raw_request(stand_in, data).partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        ok = (400 <= status < 500 and b"application/json" in head.lower()
              and set(httpx2.Response(status, content=body).json()["error"]) == ENVELOPE)
        held += ok
        assert ok, (name, head[:200], body[:200])
    record("server.errors_before_routing", tried=len(cases), held=held)


@pytest.fixture(scope="module")
def finished(stand_in: LocalServer) -> str:
    client = openai.OpenAI(base_url=stand_in.base_url, api_key=stand_in.api_key, max_retries=0)
    video = client.videos.create_and_poll(prompt="A finished stand-in", poll_interval_ms=20)
    assert video.status == "completed", video.error
    return video.id


def test_an_unsatisfiable_range_is_416_in_the_envelope(stand_in: LocalServer,
                                                       finished: str) -> None:
    url = stand_in.content_url(finished, "thumbnail")
    whole = httpx2.get(url, headers=auth(stand_in))
    assert whole.status_code == 200
    size = len(whole.content)
    for value in ("bytes=999999999-", f"bytes={size}-", "bytes=abc", "bytes=5-1"):
        response = httpx2.get(url, headers={**auth(stand_in), "Range": value})
        assert response.status_code == 416, value
        assert response.headers["Content-Range"] == f"bytes */{size}"
        assert is_envelope(response) and response.json()["error"]["param"] == "Range"
    part = httpx2.get(url, headers={**auth(stand_in), "Range": "bytes=2-5"})
    assert part.status_code == 206 and part.content == whole.content[2:6]
    tail = httpx2.get(url, headers={**auth(stand_in), "Range": "bytes=-3"})
    assert tail.status_code == 206 and tail.content == whole.content[-3:]


class CountingFont:
    """A font that counts how many characters it was asked to measure: the work of wrap()."""

    def __init__(self, size: int) -> None:
        self.font = font(size)
        self.measured = 0

    def getlength(self, text: str) -> float:
        self.measured += len(text)
        return float(self.font.getlength(text))


@pytest.mark.parametrize("prompt", ["x" * 32_000, "word " * 6_400, "a" * 31_000 + " tail",
                                    " ".join("y" * 900 for _ in range(35))])
def test_wrapping_work_is_bounded_by_what_is_drawn(prompt: str) -> None:
    f: Any = CountingFont(40)
    width, max_lines = 1100.0, 3
    lines = wrap(prompt, f, width, max_lines)
    assert 1 <= len(lines) <= max_lines and lines[-1].endswith(ELLIPSIS)
    assert all(f.font.getlength(line) <= width for line in lines)
    # A bound on work, not time: what a few lines can hold, times the binary searches.
    # Splitting a 32,000-character word in full measured ~10^8 characters (262 s).
    drawable = (max_lines + 1) * (int(width) + 1)
    assert f.measured <= 40 * drawable, f.measured
