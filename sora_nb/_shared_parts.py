"""Widget parts every card and grid cell reuse: each widget is a comm, and a 20-card grid
need not open 20 identical copies of a style or layout that nothing ever changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["shared_html_style", "shared_part"]

_shared_parts: dict[str, Any] = {}


def shared_part(name: str, make: Callable[[], Any]) -> Any:
    """The style or layout widget ``name`` that every card and grid cell reuses (made by
    ``make`` on first use, and again once closed, e.g. by ``Widget.close_all()``). Only parts
    nothing ever changes may be shared: a change would show on every card at once."""
    part = _shared_parts.get(name)
    if part is None or part.comm is None:
        part = _shared_parts[name] = make()
    return part


def shared_html_style() -> Any:
    """The ``HTMLStyle`` that every card's head and every waiting grid cell share."""
    from ipywidgets.widgets.widget_string import HTMLStyle  # deferred: heavy, kernel only

    return shared_part("html-style", HTMLStyle)
