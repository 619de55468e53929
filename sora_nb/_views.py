"""The hooks through which a job reaches its views without importing them: the notebook
display, ``show()``, the HTML card and the terminal progress bar of ``wait()``.

``SoraJob`` only ever calls ``views.<hook>``; the view modules are wired in here by
``sora_nb/__init__.py`` (``register(...)``), so the dependency points from views to the
job and never back. A hook left unset degrades to plain text (``repr``) or no bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._types import JobSnapshot, Variant

if TYPE_CHECKING:
    from ._job import SoraJob

__all__ = ["JobViews", "ProgressBar", "register", "views"]


class ProgressBar(Protocol):
    """An observer that draws snapshots until ``close()`` (the terminal bar of ``wait()``)."""

    def __call__(self, snap: JobSnapshot) -> None:
        """Draw ``snap``."""

    def close(self) -> None:
        """End the bar; later snapshots are ignored."""


@dataclass
class JobViews:
    """The registered views. ``progress_bar(wanted)`` returns a bar or ``None`` (the
    ``progress=`` argument of ``wait()``: ``None`` means "if this is a terminal")."""

    mimebundle: Callable[[SoraJob, Any, Any], dict[str, Any]] | None = None
    display: Callable[[SoraJob], None] | None = None
    html: Callable[[SoraJob], str] | None = None
    show: Callable[[SoraJob, Variant, bool, int | None], None] | None = None
    progress_bar: Callable[[bool | None], ProgressBar | None] | None = None


views = JobViews()


def register(
    *,
    mimebundle: Callable[[SoraJob, Any, Any], dict[str, Any]] | None = None,
    display: Callable[[SoraJob], None] | None = None,
    html: Callable[[SoraJob], str] | None = None,
    show: Callable[[SoraJob, Variant, bool, int | None], None] | None = None,
    progress_bar: Callable[[bool | None], ProgressBar | None] | None = None,
) -> None:
    """Install view hooks (each one given replaces the current one)."""
    if mimebundle is not None:
        views.mimebundle = mimebundle
    if display is not None:
        views.display = display
    if html is not None:
        views.html = html
    if show is not None:
        views.show = show
    if progress_bar is not None:
        views.progress_bar = progress_bar
