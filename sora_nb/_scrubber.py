"""The spritesheet scrubber: ``sprite_grid`` finds the tile grid of a spritesheet and
``SpriteScrubber`` shows one tile at a time under a slider (ipywidgets, no JavaScript)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ._errors import SoraParameterError

__all__ = ["SpriteScrubber", "sprite_grid", "sprite_html"]


def sprite_grid(image: Any, aspect: float | None = None, max_tiles: int = 20
                ) -> tuple[int, int]:
    """Guess ``(cols, rows)`` of a spritesheet (a PIL image): among grids whose tiles divide
    the sheet evenly (and match ``aspect``, the video's width/height, within 4%), the finest
    whose every internal boundary is a visible seam (a jump in brightness between
    neighbouring pixel columns or rows well above the image's typical one). ``(1, 1)`` when
    no grid shows."""
    import numpy as np  # deferred: numpy only for a spritesheet, not for every import

    a = np.asarray(image.convert("L"), dtype=np.float32)
    height, width = a.shape
    col_jump = np.abs(np.diff(a, axis=1)).mean(axis=0)
    row_jump = np.abs(np.diff(a, axis=0)).mean(axis=1)

    def seams(jumps: Any, n: int) -> bool:
        if n == 1:
            return True
        length = len(jumps) + 1
        at = np.array([k * length // n - 1 for k in range(1, n)])
        threshold = 3 * float(np.median(jumps)) + 2.0
        return bool((jumps[at] > threshold).mean() >= 0.8)

    best = (1, 1)
    for cols in range(1, max_tiles + 1):
        if width % cols:
            continue
        for rows in range(1, max_tiles + 1):
            if height % rows or cols * rows <= best[0] * best[1]:
                continue
            tile = (width / cols) / (height / rows)
            if aspect is not None and abs(tile / aspect - 1) > 0.04:
                continue
            if seams(col_jump, cols) and seams(row_jump, rows):
                best = (cols, rows)
    return best


class SpriteScrubber:
    """A spritesheet as a scrubbable frame view: an ``IntSlider`` over the tiles and an
    ``Image`` showing the selected one (cropped in Python, so it works in untrusted
    notebooks where output JavaScript would not run). ``cols``/``rows`` override the
    detected grid."""

    def __init__(self, path: str | Path, *, aspect: float | None = None, cols: int | None = None,
                 rows: int | None = None, width: int | None = None) -> None:
        import ipywidgets as w  # deferred: heavy, and only a kernel renders widgets
        from PIL import Image  # deferred with ipywidgets, on the same path

        with Image.open(path) as img:
            sheet = img.convert("RGB")
        if cols is None or rows is None:
            cols, rows = sprite_grid(sheet, aspect)
        for name, value in (("cols", cols), ("rows", rows)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SoraParameterError(name, value, "a positive number of tiles")
        tw, th = sheet.width // cols, sheet.height // rows
        self.frames: list[bytes] = []
        for index in range(cols * rows):
            x, y = (index % cols) * tw, (index // cols) * th
            buf = io.BytesIO()
            sheet.crop((x, y, x + tw, y + th)).save(buf, format="JPEG", quality=90)
            self.frames.append(buf.getvalue())
        self.grid = (cols, rows)
        self.image = w.Image(value=self.frames[0], format="jpeg",
                             width=str(width) if width else "", layout=w.Layout(max_width="100%"))
        self.slider = w.IntSlider(value=0, min=0, max=len(self.frames) - 1,
                                  description="frame", continuous_update=True,
                                  layout=w.Layout(width="100%"))
        self.slider.observe(self._on_frame, names="value")
        self.widget = w.VBox([self.image, self.slider])

    def _on_frame(self, change: dict[str, Any]) -> None:
        self.image.value = self.frames[int(change["new"])]

    def __repr__(self) -> str:
        cols, rows = self.grid
        return f"<SpriteScrubber {cols}x{rows} frames>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        if bundle is not None:  # not the VBox's dump of its children's JPEG bytes
            bundle["text/plain"] = repr(self)
        return bundle


def sprite_html(src: str, cols: int, rows: int, *, aspect: float | None = None,
                uid: str = "", width: int | None = None) -> str:
    """A scrubber in plain HTML and CSS (no widget, no script, so it outlives the kernel):
    the spritesheet at ``src`` shown one tile at a time; moving the pointer across the
    picture steps through the frames (``:has()``, CSS Selectors 4). Where ``<style>`` is
    stripped (an untrusted notebook) it shows the first frame."""
    import html  # deferred: only this function escapes

    for name, value in (("cols", cols), ("rows", rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SoraParameterError(name, value, "a positive number of tiles")
    n = cols * rows
    cls = f"sora-nb-sprite-{uid or 'x'}"
    ratio = f"{aspect:.4f}" if aspect else "16/9"
    max_width = f"{width}px" if width else "640px"

    def pos(i: int) -> str:
        c, r = i % cols, i // cols
        x = 0 if cols == 1 else c * 100 / (cols - 1)
        y = 0 if rows == 1 else r * 100 / (rows - 1)
        return f"{x:.3f}% {y:.3f}%"

    rules = [
        f".{cls}{{position:relative;width:100%;max-width:{max_width};aspect-ratio:{ratio};"
        f"background-image:url('{html.escape(src, quote=True)}');"
        f"background-size:{cols * 100}% {rows * 100}%;background-position:0 0;"
        "border-radius:6px;cursor:ew-resize}",
        f".{cls}>i{{position:absolute;top:0;bottom:0;width:{100 / n:.4f}%}}",
    ]
    for i in range(n):
        rules.append(f".{cls}>i:nth-child({i + 1}){{left:{i * 100 / n:.4f}%}}")
        rules.append(f".{cls}:has(>i:nth-child({i + 1}):hover){{background-position:{pos(i)}}}")
    slices = "<i></i>" * n
    return (
        f"<style>{''.join(rules)}</style>"
        f'<div class="sora-nb-sprite" style="font-family:system-ui,sans-serif">'
        f'<div class="{cls}" role="img" aria-label="spritesheet, {n} frames">{slices}</div>'
        f'<div style="font-size:12px;opacity:.7">{n} frames: move the pointer across the '
        "picture to scrub</div></div>"
    )
