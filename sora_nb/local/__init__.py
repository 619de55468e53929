"""The embedded Sora-compatible backend: ``start()`` serves the OpenAI Videos API on
127.0.0.1 and renders real MP4s locally, so sora_nb runs offline and for free."""

from __future__ import annotations

from .server import DIALECTS, MODERATION_MARKER, FaultConfig, LocalServer, start

__all__ = ["DIALECTS", "MODERATION_MARKER", "FaultConfig", "LocalServer", "start"]
