"""Schemathesis against the local server, from the /videos part of OpenAI's API
(tests/local/openai_videos_spec.yaml, written by hand from openai-python's types: the
published spec is not reachable offline). Every generated request, valid or not, must get
an answer below 500; the count of cases is bounded by ``MAX_EXAMPLES`` per operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from reliability import record

import sora_nb.local.server as server_module
from sora_nb.local import LocalServer, start

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

#: Cases per operation (11 operations): a few hundred requests in all.
MAX_EXAMPLES = 30
SPEC = Path(__file__).with_name("openai_videos_spec.yaml")
schema = schemathesis.openapi.from_path(SPEC)
_tally = {"tried": 0, "held": 0}


@pytest.fixture(scope="module")
def target() -> Iterator[LocalServer]:
    """A server whose renders are three tiny files, so valid creates cost no CPU."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(server_module, "_render_module", "stand_in_render")
        with start(job_seconds=0, workers=1) as server:
            yield server
    if _tally["tried"]:
        record("server.schemathesis", tried=_tally["tried"], held=_tally["held"],
               note="answers below 500 to requests generated from the /videos spec")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case, target: LocalServer) -> None:
    response = case.call(base_url=target.base_url,
                         headers={"Authorization": f"Bearer {target.api_key}"}, timeout=60)
    _tally["tried"] += 1
    ok = response.status_code < 500
    _tally["held"] += ok
    assert ok, (case.method, case.formatted_path, response.status_code, response.text[:300])
