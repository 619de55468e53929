"""sora_nb: OpenAI Sora video generation that feels native in Jupyter.

``SoraJob(prompt)`` returns at once and shows a live card while the video renders; the
functional API of the original TypeScript module (``generate_video_with_sora`` and its
``async_`` twins), an audio merge (``merge_audio``) and an embedded Sora-compatible backend
(``sora_nb.local``) come along.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _show, _textbar, _views
from ._api import (
    SoraVideoStatus,
    async_download_sora_video_content,
    async_generate_and_download_sora_video,
    async_generate_video_with_sora,
    async_get_sora_video_status,
    download_sora_video_content,
    generate_and_download_sora_video,
    generate_video_with_sora,
    get_sora_video_status,
    watch_sora_video,
)
from ._config import Backend, configure
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
from ._gallery import Gallery, gallery
from ._grid import CompareGrid, batch, compare, sweep
from ._job import SoraJob
from ._many import Slot
from ._params import DEFAULT_MODEL, SoraDurationWarning
from ._poller import PollPolicy
from ._prompt import enhance_prompt
from ._reference import ImageFit
from ._store import HistoryEntry, history
from ._types import (
    STATUSES,
    TERMINAL,
    AudioFit,
    AudioInput,
    AudioMode,
    JobError,
    JobOptions,
    JobSnapshot,
    PollState,
    Status,
    Variant,
)

if TYPE_CHECKING:
    from . import local
    from ._audio import MergedVideo, merge_audio

__all__ = [
    "DEFAULT_MODEL",
    "STATUSES",
    "TERMINAL",
    "AudioFit",
    "AudioInput",
    "AudioMode",
    "Backend",
    "CompareGrid",
    "Gallery",
    "HistoryEntry",
    "ImageFit",
    "JobError",
    "JobOptions",
    "JobSnapshot",
    "MergedVideo",
    "PollPolicy",
    "PollState",
    "Slot",
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
    "Status",
    "Variant",
    "async_download_sora_video_content",
    "async_generate_and_download_sora_video",
    "async_generate_video_with_sora",
    "async_get_sora_video_status",
    "batch",
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
    "sweep",
    "watch_sora_video",
]
__version__ = "0.1.0"

# The job never imports a view: its display, show() and wait()'s terminal bar are these
# hooks, wired here once (see ARCHITECTURE.md, "views").
_views.register(mimebundle=_show.job_mimebundle, display=_show.display_job,
                html=_show.job_card_html,
                show=_show.show_job, progress_bar=_textbar.terminal_progress)

# Loaded on first use, so `import sora_nb` stays fast: the audio merge pulls in numpy and
# moviepy, the embedded backend aiohttp and its render workers.
_LAZY = {"MergedVideo": "_audio", "merge_audio": "_audio"}


def __getattr__(name: str) -> Any:
    import importlib  # only reached for the lazy names above

    if name == "local":
        return importlib.import_module(".local", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sora_nb' has no attribute {name!r}")
