"""The server dialects by name: ``DIALECTS`` (what ``local.start(dialect=...)`` and
``sora-nb serve --dialect`` accept) and ``dialect_named``.

A dialect is what another server answers where it differs from the Sora API (ids, request
fields, routes, response fields, errors, headers): ``Dialect`` in ``_dialect_base`` is the
Sora API itself; ``_dialect_vllm``, ``_dialect_sglang`` and ``_dialect_gateway`` override its
hooks, each rule citing the file it reproduces.
"""

from __future__ import annotations

from ._dialect_base import Dialect
from ._dialect_gateway import Gateway
from ._dialect_sglang import SGLang
from ._dialect_vllm import VllmOmni

__all__ = ["DIALECTS", "dialect_named"]

_DIALECTS: dict[str, type[Dialect]] = {
    "sora": Dialect, "vllm-omni": VllmOmni, "sglang": SGLang, "gateway": Gateway,
}
DIALECTS: tuple[str, ...] = tuple(_DIALECTS)


def dialect_named(name: str) -> Dialect:
    """A fresh dialect object by name (one of ``DIALECTS``)."""
    return _DIALECTS[name]()
