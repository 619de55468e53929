"""Fonts and text fitting for the renderer: Pillow's bundled scalable font (no system fonts
needed), glyph-safe text, and word wrapping with a graceful ellipsis."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from PIL import ImageFont, features

from .._errors import SoraMediaError

__all__ = ["ELLIPSIS", "Font", "font", "printable", "wrap"]

Font = ImageFont.FreeTypeFont
ELLIPSIS = "…"
# Typographic characters the bundled font lacks, mapped to ones it has.
_FALLBACK = {"—": "-", "–": "-", "‐": "-", "−": "-", "\u00a0": " ", "×": "x", "•": "·"}


@lru_cache(maxsize=16)
def font(size: int) -> Font:
    """Pillow's bundled scalable font (Aileron) at ``size`` px: no system font needed.
    It needs Pillow's FreeType support, which every Pillow wheel includes."""
    if not features.check("freetype2"):
        raise SoraMediaError("this Pillow was built without FreeType, which the local "
                             "renderer needs: reinstall Pillow from a wheel (pip install pillow)")
    f = ImageFont.load_default(size=size)
    assert isinstance(f, ImageFont.FreeTypeFont)
    return f


@lru_cache(maxsize=1)
def _missing() -> bytes:
    return bytes(font(24).getmask("\U0010fff0"))


@lru_cache(maxsize=4096)
def _drawable(ch: str) -> bool:
    """Whether the bundled font has a glyph for ``ch`` (else it would draw an empty box)."""
    return ch == " " or (ch.isprintable() and bytes(font(24).getmask(ch)) != _missing())


def printable(text: str) -> str:
    """``text`` on one line, whitespace collapsed, every character drawable by the bundled
    font: accents are dropped (é -> e), dashes become '-', anything else becomes '?'."""
    out: list[str] = []
    for ch in " ".join(text.split()):
        if _drawable(ch):
            out.append(ch)
            continue
        ch = _FALLBACK.get(ch, ch)
        if _drawable(ch):
            out.append(ch)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
        )
        out.append(base if base and all(map(_drawable, base)) else "?")
    return "".join(out)


def _fit(text: str, f: Font, width: float, suffix: str = "") -> str:
    """The longest prefix of ``text`` (cut at a word when possible) that fits in ``width``
    together with ``suffix``."""
    if f.getlength(text + suffix) <= width:
        return text + suffix
    lo, hi = 0, len(text)
    while lo < hi:  # binary search on the character count
        mid = (lo + hi + 1) // 2
        if f.getlength(text[:mid].rstrip() + suffix) <= width:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    if suffix and " " in cut.strip() and lo < len(text) and text[lo] != " ":
        cut = cut[: cut.rstrip().rfind(" ")]  # end at a word boundary
    return cut.rstrip() + suffix


def wrap(text: str, f: Font, width: float, max_lines: int) -> list[str]:
    """Word-wrap ``text`` into at most ``max_lines`` lines no wider than ``width`` px.
    Words longer than a line are split; text that does not fit ends with an ellipsis.

    The work is bounded by what can be drawn, not by the length of ``text``: no drawable
    glyph is narrower than a pixel, so at most ``width`` characters fit on a line and only
    ``max_lines + 1`` lines' worth is ever looked at (a 32,000-character word once took a
    render worker four minutes, split line by line before the limit was checked)."""
    cap = (max_lines + 1) * (int(width) + 1)
    words = printable(text)[:cap].split(" ") if text.strip() else []
    lines: list[str] = []
    line = ""
    for i, word in enumerate(words):
        candidate = f"{line} {word}" if line else word
        if f.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        # wider than a line: split it, but no further than the last line that is drawn
        while len(lines) < max_lines and len(word) > 1 and f.getlength(word) > width:
            head = _fit(word, f, width) or word[0]
            lines.append(head)
            word = word[len(head):]
        line = word
        if len(lines) >= max_lines:  # overflowing: the rest only feeds the ellipsis line
            lines.append(" ".join([line, *words[i + 1:]]))
            break
    else:
        if line:
            lines.append(line)
    if len(lines) > max_lines:
        last = " ".join(lines[max_lines - 1:])
        lines = [*lines[: max_lines - 1], _fit(last, f, width, ELLIPSIS)]
    return lines
