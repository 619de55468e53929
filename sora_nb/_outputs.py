"""Jupyter outputs: the mimebundles cards, grids and galleries show (static HTML, or a live
widget view beside it), and the display ids through which each output is replaced in place.

How a view outlives the kernel: every display of it gets an IPython ``display_id``; once it is
final, each display is replaced with ``update_display`` by a bundle with no widget view. A
saved notebook, a kernel-less reopen, nbconvert's HTML and GitHub then show that bundle, never
"Error displaying widget" (seen working in JupyterLab 4.6 from the runtime thread:
/work/shared/notes/browser-testing.md)."""

from __future__ import annotations

import uuid
from typing import Any

from ._config import in_kernel

__all__ = [
    "WIDGET_VIEW",
    "DisplayIds",
    "filter_bundle",
    "ipy_display",
    "live_bundle",
    "static_bundle",
    "update_display",
    "widgets_available",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widgets_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets importable: the only place a widget
    view can render. Elsewhere sora_nb shows HTML only."""
    if not in_kernel():
        return False
    try:
        import ipywidgets  # noqa: F401  # deferred: probing whether widgets can render
    except ImportError:
        return False
    return True


def static_bundle(html: str, text: str) -> dict[str, Any]:
    """A bundle with no widget view: what a card, grid or gallery becomes once final."""
    return {"text/html": html, "text/plain": text}


def live_bundle(html: str, text: str, widget: Any) -> dict[str, Any]:
    """The static bundle with ``widget``'s view beside it (the HTML snapshot and the short
    repr stay, for front ends that cannot render widgets)."""
    bundle = static_bundle(html, text)
    view = widget._repr_mimebundle_() or {}
    if WIDGET_VIEW in view:
        bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
    return bundle


def filter_bundle(bundle: dict[str, Any], include: Any, exclude: Any) -> dict[str, Any]:
    """``bundle`` with only the MIME types in ``include`` (if given), minus ``exclude``: the
    ``_repr_mimebundle_`` protocol's two arguments."""
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def ipy_display(*objs: Any, **kwargs: Any) -> Any:
    """``IPython.display.display`` with a type (IPython ships it untyped). Call it only
    from the thread that runs the cell."""
    from IPython.display import display  # deferred: IPython is imported only to display

    return display(*objs, **kwargs)  # type: ignore[no-untyped-call]


def update_display(bundle: dict[str, Any], display_id: str) -> None:
    """Replace every output shown with ``display_id`` by ``bundle``."""
    # From the runtime thread: IPython publishes an update_display_data message, which
    # the front end applies to every output with this display id.
    from IPython.display import update_display  # deferred: IPython only to display

    update_display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]


def _shows(bundle: dict[str, Any]) -> str:
    return "widget" if WIDGET_VIEW in bundle else str(bundle["text/html"])


class DisplayIds:
    """The displays of one view and what each shows ("widget", or the HTML): ``add`` one,
    ``update`` them all with a new bundle, leaving alone those that already show it. Not
    locked: the view calls it under its own lock."""

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}

    def add(self, bundle: dict[str, Any]) -> str:
        """A new display id, recorded as showing ``bundle`` (the caller displays it)."""
        display_id = uuid.uuid4().hex
        self._shown[display_id] = _shows(bundle)
        return display_id

    def update(self, bundle: dict[str, Any]) -> None:
        """Bring every display that shows something else to ``bundle``."""
        shown = _shows(bundle)
        for display_id, was in self._shown.items():
            if was != shown:
                update_display(bundle, display_id)
                self._shown[display_id] = shown

    def __bool__(self) -> bool:
        return bool(self._shown)
