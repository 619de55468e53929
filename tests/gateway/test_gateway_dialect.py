"""The embedded backend's ``gateway`` dialect against the real LiteLLM proxy: the same
requests to both, and the shapes of the answers compared (status, fields, errors, headers,
ids), so the dialect keeps reproducing what the proxy does."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx2
import pytest

from sora_nb.local import MODERATION_MARKER

from .conftest import CLIP, GatewayProxy

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

UNRENDERED = f"{MODERATION_MARKER} a gateway probe"
DECODED = re.compile(r"^litellm:custom_llm_provider:openai;model_id:sora-2;"
                     r"video_id:(video_[0-9a-f]+);deployment_id:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def proxy_shapes(litellm_proxy: GatewayProxy) -> dict[str, Any]:
    with httpx2.Client(base_url=litellm_proxy.base_url, headers=litellm_proxy.headers,
                       timeout=60) as client:
        return _shapes(client)


@pytest.fixture(scope="module")
def dialect_shapes(litellm_proxy: GatewayProxy) -> dict[str, Any]:
    srv = litellm_proxy.dialect  # its render of CLIP ran while the proxy started
    with httpx2.Client(base_url=srv.base_url, timeout=60,
                       headers={"Authorization": f"Bearer {srv.api_key}"}) as client:
        return _shapes(client)


def _shape(response: httpx2.Response) -> dict[str, Any]:
    """What must agree: status, the answer's keys or error fields, and the headers that
    matter to a client (poll hints, retry hints, Allow)."""
    shape: dict[str, Any] = {"status": response.status_code}
    for name in ("openai-poll-after-ms", "retry-after", "etag", "allow"):
        shape[name] = response.headers.get(name)
    ctype = response.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = response.json()
        if isinstance(body.get("error"), dict) and "object" not in body:
            error = body["error"]
            shape["error"] = (error["type"], error["param"], error["code"],
                              error["message"].split(" - ")[0].split(".", 1)[0])
        elif "detail" in body:
            shape["detail"] = body["detail"]
        else:
            shape["keys"] = sorted(body)
            shape["usage"] = body.get("usage")
            shape["id"] = _id_shape(body["id"])
    else:
        shape["content-type"] = ctype
        shape["ftyp"] = response.content[4:8] == b"ftyp"
    return shape


def _id_shape(video_id: str) -> tuple[bool, bool, bool]:
    text = base64.b64decode(video_id[6:]).decode()
    return video_id.startswith("video_"), video_id.endswith("=="), bool(DECODED.match(text))


def _shapes(target: httpx2.Client) -> dict[str, Any]:
    """Every probe's shape on one target (the proxy or the dialect)."""
    out: dict[str, Any] = {}
    created = target.post("/videos", json=CLIP)
    out["create"] = _shape(created)
    video_id = created.json()["id"]
    body = created.json()
    deadline = time.monotonic() + 90
    seen = {body["status"]}
    while body["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        polled = target.get(f"/videos/{video_id}")
        body = polled.json()
        seen.add(body["status"])
    out["statuses"] = sorted(seen)
    out["retrieve"] = _shape(polled)
    for variant in ("video", "thumbnail", "spritesheet"):
        out[variant] = _shape(target.get(f"/videos/{video_id}/content",
                                         params={"variant": variant}))
    remix = target.post(f"/videos/{video_id}/remix", json={"prompt": UNRENDERED})
    out["remix"] = _shape(remix)
    raw = DECODED.match(base64.b64decode(video_id[6:]).decode())
    assert raw is not None
    out["remixed_from_is_raw"] = remix.json()["remixed_from_video_id"] == raw.group(1)
    out["raw id"] = _shape(target.get(f"/videos/{raw.group(1)}"))
    out["list"] = _shape(target.get("/videos"))
    out["delete"] = _shape(target.delete(f"/videos/{video_id}"))
    keyed = [target.post("/videos", json={"model": "sora-2", "prompt": UNRENDERED},
                         headers={"Idempotency-Key": "one"}).json()["id"] for _ in range(2)]
    out["idempotency honoured"] = keyed[0] == keyed[1]
    out["bad seconds"] = _shape(target.post("/videos", json={"model": "sora-2",
                                                             "prompt": "x", "seconds": "5"}))
    out["not ready"] = _shape(target.get(f"/videos/{keyed[0]}/content"))
    base_url = str(target.base_url).rstrip("/")
    out["wrong key"] = _shape(httpx2.get(f"{base_url}/videos/{video_id}",
                                         headers={"Authorization": "Bearer sk-wrong"}))
    return out


def test_the_gateway_dialect_answers_as_the_real_proxy(
    proxy_shapes: dict[str, Any], dialect_shapes: dict[str, Any]
) -> None:
    assert proxy_shapes.keys() == dialect_shapes.keys()
    for probe, expected in proxy_shapes.items():
        assert dialect_shapes[probe] == expected, probe
