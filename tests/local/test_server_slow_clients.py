"""Slow and greedy clients on raw sockets: a request head or body that never finishes is
cut off (header and body read timeouts), and a body over its limit is refused from its
Content-Length before it is read, so other clients go on being served."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from reliability import record

import sora_nb.local._server_http as http_module
import sora_nb.local._server_params as params_module
from sora_nb.local import LocalServer, start

# slow: each waits out a header or body timeout (make test runs them, make check does not)
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]

HALF_OPEN = 200
SLOW_BODIES = 20
#: A bound on waiting for the server to act (not a speed requirement).
WAIT_SECONDS = 60.0


@pytest.fixture()
def quick_timeouts() -> Iterator[LocalServer]:
    """A server with 1 s header and body timeouts (15 s and 60 s by default)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(http_module, "HEADER_TIMEOUT", 1.0)
        mp.setattr(params_module, "BODY_TIMEOUT", 1.0)
        with start(job_seconds=0) as server:
            yield server


def connect(server: LocalServer, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_SECONDS)
    sock.sendall(data)
    return sock


def read_until_closed(sock: socket.socket) -> bytes | None:
    """Everything the server sends until it closes; None if it kept the connection open."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def test_slow_heads_and_bodies_are_cut_off_and_others_still_served(
    quick_timeouts: LocalServer, sdk: Any
) -> None:
    server = quick_timeouts
    heads = [connect(server, b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nX-Slow: ")
             for _ in range(HALF_OPEN)]
    bodies = [connect(server, b"POST /v1/videos HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + server.api_key.encode() + b"\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                      b'{"prompt": "') for _ in range(SLOW_BODIES)]
    try:
        assert sdk(server, timeout=WAIT_SECONDS).videos.list().object == "list"
        closed_heads = sum(read_until_closed(s) is not None for s in heads)
        answers = [read_until_closed(s) for s in bodies]
    finally:
        for s in heads + bodies:
            s.close()
    timed_out = sum(a is not None and a.startswith(b"HTTP/1.1 408") and b'"error"' in a
                    for a in answers)
    record("server.slow_clients", tried=HALF_OPEN + SLOW_BODIES, held=closed_heads + timed_out,
           note="half-open heads closed, trickled bodies answered 408")
    assert closed_heads == HALF_OPEN
    assert timed_out == SLOW_BODIES
    assert sdk(server).videos.list().object == "list"


@pytest.fixture(scope="module")
def plain_server() -> Iterator[LocalServer]:
    with start(job_seconds=0) as server:
        yield server


@pytest.mark.parametrize(
    ("ctype", "length"),
    [("application/json", 60 * 1024 * 1024), ("multipart/form-data; boundary=b", 10**9)],
)
def test_an_oversized_body_is_413_before_it_is_read(plain_server: LocalServer, ctype: str,
                                                    length: int) -> None:
    sock = connect(plain_server, (
        f"POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {plain_server.api_key}"
        f"\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + b'{"prompt": "x", "input_reference": {"image_url": "data:image/png;base64,')
    with sock:  # the rest of the body is never sent: the answer must come without it
        answer = read_until_closed(sock)
    assert answer is not None and answer.startswith(b"HTTP/1.1 413")
    assert b"application/json" in answer and b'"request_too_large"' in answer


def test_a_chunked_json_body_stops_at_the_limit(plain_server: LocalServer) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"prompt": "x", "input_reference": {"image_url": "data:image/png;base64,'
        for _ in range(64):  # 64 MiB, no Content-Length: the server must count as it reads
            yield b"A" * (1024 * 1024)
        yield b'"}}'

    # (aiohttp reads and drops what follows the answer for a while, so the client may well
    # send it all: what matters is the 413, not a 400 from parsing a 64 MiB JSON document)
    response = httpx2.post(f"{plain_server.base_url}/videos", content=body(), timeout=60,
                           headers={"Authorization": f"Bearer {plain_server.api_key}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_body_within_the_timeout_is_read_whole(plain_server: LocalServer) -> None:
    head = (f"POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            f"{plain_server.api_key}\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\n")
    body = b'{"prompt": "sent in two pieces [moderation-block]"}'
    sock = connect(plain_server, f"{head}Content-Length: {len(body)}\r\n\r\n".encode()
                   + body[:10])
    with sock:
        time.sleep(0.2)  # a pause well within BODY_TIMEOUT: the request must still succeed
        sock.sendall(body[10:])
        answer = read_until_closed(sock)
    assert answer is not None and answer.startswith(b"HTTP/1.1 200")
