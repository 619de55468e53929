"""sora_nb: OpenAI Sora video generation that feels native in Jupyter.

``SoraJob(prompt)`` returns at once and shows a live card while the video renders; the
seed's functional API, an audio merge and an embedded Sora-compatible backend come along.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._config import configure
from ._errors import (
    SoraAPIError,
    SoraAudioError,
    SoraAuthenticationError,
    SoraConfigError,
    SoraConnectionError,
    SoraContentError,
    SoraError,
    SoraJobCancelled,
    SoraJobExpired,
    SoraJobFailed,
    SoraMediaError,
    SoraOutcomeUnknown,
    SoraParameterError,
    SoraProtocolError,
    SoraTimeout,
    SoraUnsupported,
)
from ._job import SoraJob
from ._params import SoraDurationWarning
from ._poller import PollPolicy
from ._prompt import enhance_prompt
from ._store import HistoryEntry, history
from ._types import STATUSES, TERMINAL, JobError, JobSnapshot
from .api import (
    SoraVideoStatus,
    adownload_sora_video_content,
    agenerate_and_download_sora_video,
    agenerate_video_with_sora,
    aget_sora_video_status,
    download_sora_video_content,
    generate_and_download_sora_video,
    generate_video_with_sora,
    get_sora_video_status,
    watch_sora_video,
)

if TYPE_CHECKING:
    from . import local
    from ._audio import MergedVideo, merge_audio
    from ._grid import CompareGrid, Gallery, compare, gallery

__all__ = [
    "STATUSES",
    "TERMINAL",
    "CompareGrid",
    "Gallery",
    "HistoryEntry",
    "JobError",
    "JobSnapshot",
    "MergedVideo",
    "PollPolicy",
    "SoraAPIError",
    "SoraAudioError",
    "SoraAuthenticationError",
    "SoraConfigError",
    "SoraConnectionError",
    "SoraContentError",
    "SoraDurationWarning",
    "SoraError",
    "SoraJob",
    "SoraJobCancelled",
    "SoraJobExpired",
    "SoraJobFailed",
    "SoraMediaError",
    "SoraOutcomeUnknown",
    "SoraParameterError",
    "SoraProtocolError",
    "SoraTimeout",
    "SoraUnsupported",
    "SoraVideoStatus",
    "adownload_sora_video_content",
    "agenerate_and_download_sora_video",
    "agenerate_video_with_sora",
    "aget_sora_video_status",
    "compare",
    "configure",
    "download_sora_video_content",
    "enhance_prompt",
    "gallery",
    "generate_and_download_sora_video",
    "generate_video_with_sora",
    "get_sora_video_status",
    "history",
    "local",
    "merge_audio",
    "watch_sora_video",
]
__version__ = "0.1.0"

# Heavy or optional parts load on first use, so `import sora_nb` stays fast:
# moviepy (audio merge), ipywidgets (grids) and the embedded backend.
_LAZY = {
    "MergedVideo": "_audio",
    "merge_audio": "_audio",
    "CompareGrid": "_grid",
    "Gallery": "_grid",
    "compare": "_grid",
    "gallery": "_grid",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "local":
        return importlib.import_module(".local", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sora_nb' has no attribute {name!r}")
