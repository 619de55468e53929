"""Tests of the one status normalisation (sora_nb._types): every word real servers and
gateways send maps to a Status; an unknown word is kept (as text) and is never final."""

from __future__ import annotations

import pytest

from sora_nb._types import STATUS_ALIASES, STATUSES, TERMINAL, normalize_status


@pytest.mark.parametrize(("sent", "status"), [
    ("queued", "queued"), ("pending", "queued"),
    ("in_progress", "in_progress"), ("processing", "in_progress"), ("running", "in_progress"),
    ("completed", "completed"), ("succeeded", "completed"),
    ("failed", "failed"), ("cancelled", "cancelled"), ("canceled", "cancelled"),
    ("expired", "expired"), (" Processing ", "in_progress"), ("IN-PROGRESS", "in_progress"),
])
def test_what_servers_send_maps_to_one_status(sent: str, status: str) -> None:
    assert normalize_status(sent) == status


def test_terminal_is_the_one_final_set() -> None:
    assert {"completed", "failed", "cancelled", "expired"} == TERMINAL
    assert set(STATUS_ALIASES.values()) <= set(STATUSES)


@pytest.mark.parametrize("sent", ["warming_up", "Scheduling", "x" * 500, "\x1b[31mred\x1b[0m"])
def test_an_unknown_status_is_kept_as_text_and_never_final(sent: str) -> None:
    shown = normalize_status(sent)
    assert shown not in TERMINAL and shown not in STATUSES
    assert len(shown) <= 40 and shown.isprintable()


@pytest.mark.parametrize("sent", [None, "", "  ", 3, {"s": 1}])
def test_a_missing_or_odd_status_reads_unknown(sent: object) -> None:
    assert normalize_status(sent) == "unknown"
