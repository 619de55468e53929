"""What the renderer draws: background, prompt panel, labels, moving shapes, timecode and
progress bar. Everything static is drawn once; frames are composited on dirty rectangles."""

from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ._font import font, printable, wrap
from ._render_yuv import Canvas, Layer, Rect, yuv_color

__all__ = ["Scene", "Seeded", "timecode"]

RGB = tuple[int, int, int]


class Seeded:
    """A deterministic stream of numbers from a text seed (sha256 in counter mode), stable
    across numpy versions and machines."""

    def __init__(self, seed: str) -> None:
        self._base = hashlib.sha256(seed.encode("utf-8")).digest()
        self._n = 0

    def random(self) -> float:
        block = hashlib.sha256(self._base + self._n.to_bytes(8, "big")).digest()
        self._n += 1
        return int.from_bytes(block[:7], "big") / 2.0**56

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def below(self, n: int) -> int:
        return min(n - 1, int(self.random() * n))


def _rgb(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _split_layers(overlay: Image.Image) -> list[Layer]:
    """Cut a full-frame RGBA overlay into tight layers, one per band of non-empty rows."""
    alpha = np.asarray(overlay.getchannel("A"))
    rows = np.flatnonzero(alpha.any(axis=1))
    layers: list[Layer] = []
    if rows.size == 0:
        return layers
    breaks = np.flatnonzero(np.diff(rows) > 1)
    for start, stop in zip(
        [rows[0], *rows[breaks + 1]], [*rows[breaks], rows[-1]], strict=True
    ):
        cols = np.flatnonzero(alpha[start : stop + 1].any(axis=0))
        box = (int(cols[0]), int(start), int(cols[-1]) + 1, int(stop) + 1)
        layers.append(Layer.from_rgba(overlay.crop(box), box[0], box[1]))
    return layers


def _merge(rects: list[Rect]) -> list[Rect]:
    """Merge overlapping rectangles until the set is disjoint."""
    out = list(rects)
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    out[i] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return out


_KINDS = ("circle", "ring", "square", "triangle", "diamond")
_TURNS = 24  # pre-rotated sprites per turn for the shapes that spin


class _Sprites:
    """The sprites of one shape, one per rotation step, each drawn the first time a frame
    needs it: a short clip whose shape turns a little never pays for every step (drawing
    all 24 steps of 4-6 shapes up front was a third of a 4 s render's Python time)."""

    def __init__(self, image: Image.Image, turns: int) -> None:
        self._image = image
        self._layers: list[Layer | None] = [None] * turns

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, k: int) -> Layer:
        layer = self._layers[k]
        if layer is None:
            turned = (self._image.rotate(-360 * k / len(self), Image.Resampling.BICUBIC)
                      if k else self._image)
            layer = self._layers[k] = Layer.from_rgba(turned)
        return layer


@dataclass(frozen=True)
class _Shape:
    sprites: _Sprites
    cx: tuple[float, float, float, float]  # centre, amplitude, frequency (Hz), phase
    cy: tuple[float, float, float, float]
    spin: float  # degrees per second

    def at(self, t: float) -> Layer:
        x = self.cx[0] + self.cx[1] * math.sin(2 * math.pi * self.cx[2] * t + self.cx[3])
        y = self.cy[0] + self.cy[1] * math.sin(2 * math.pi * self.cy[2] * t + self.cy[3])
        k = round(self.spin * t / 360 * len(self.sprites)) % len(self.sprites)
        sprite = self.sprites[k]
        h, w = sprite.pre_y.shape
        return sprite.moved(round(x) - w // 2, round(y) - h // 2)


def _shape(kind: str, radius: int, color: RGB, rim: RGB, turns: int) -> _Sprites:
    """Antialiased sprites of one shape (drawn at 2x, reduced), one per rotation step."""
    side = 2 * math.ceil(radius * 1.45) + 2
    big = 2 * side
    c, r = big / 2, radius * 2
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    fill, edge, width = (*color, 215), (*rim, 235), max(2, round(r * 0.08))
    if kind == "circle":
        d.ellipse((c - r, c - r, c + r, c + r), fill=fill, outline=edge, width=width)
    elif kind == "ring":
        d.ellipse((c - r, c - r, c + r, c + r), outline=fill, width=max(4, round(r * 0.3)))
    elif kind == "square":
        q = r * 0.82
        d.rounded_rectangle((c - q, c - q, c + q, c + q), radius=round(q * 0.25), fill=fill,
                            outline=edge, width=width)
    else:
        corners = 3 if kind == "triangle" else 4
        pts = [(c + r * math.sin(2 * math.pi * k / corners),
                c - r * math.cos(2 * math.pi * k / corners)) for k in range(corners)]
        d.polygon(pts, fill=fill, outline=edge, width=width)
    return _Sprites(img.reduce(2), turns)


def _gradient(width: int, height: int, top: RGB, bottom: RGB, glow: RGB, seed: Seeded) -> Canvas:
    """A diagonal two-colour gradient with a few soft glows, computed small and upscaled."""
    w, h = max(8, width // 8), max(8, height // 8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mix = ((yy / h) * 0.75 + (xx / w) * 0.25)[:, :, None]
    img = np.asarray(top, np.float32) * (1 - mix) + np.asarray(bottom, np.float32) * mix
    for _ in range(3):
        gx, gy = seed.uniform(0.1, 0.9) * w, seed.uniform(0.1, 0.7) * h
        rad = seed.uniform(0.15, 0.35) * max(w, h)
        fall = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * rad**2))[:, :, None]
        img += (np.asarray(glow, np.float32) - img) * fall * 0.35
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return Canvas.from_rgb(np.asarray(small.resize((width, height), Image.Resampling.BILINEAR)))


def timecode(seconds: float) -> str:
    """``mm:ss.cc``, e.g. ``00:03.25``."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


def _even(v: float) -> int:
    return 2 * round(v / 2)


class Scene:
    """The look of one render, derived from the prompt (and ``seed``, when given).
    ``frame(i)`` draws frame ``i`` on the background (touching only dirty rectangles);
    ``decorate(canvas, i)`` draws the overlay onto a frame from elsewhere (a source video).
    ``cover`` backs the text with panels opaque enough to hide the text of a source
    rendered the same way."""

    def __init__(
        self, *, prompt: str, model: str, width: int, height: int, fps: int,
        total_frames: int, label: str, background: Canvas | None = None,
        shapes: bool = True, cover: bool = False, seed: int | None = None,
    ) -> None:
        self.width, self.height, self.fps, self.total = width, height, fps, total_frames
        rng = Seeded(prompt if seed is None else f"{prompt}\x00seed={seed}")
        hue = rng.random()
        self.accent = _rgb(hue + 0.5, 0.55, 1.0)
        s = min(width, height)
        m = _even(s * 0.045)
        if background is None:
            background = _gradient(width, height, _rgb(hue, 0.6, 0.2),
                                   _rgb(hue + 0.08, 0.7, 0.5), _rgb(hue + 0.2, 0.5, 0.85), rng)
        self.base = background

        small, big = font(round(s * 0.032)), font(round(s * 0.052))
        panels = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        text = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        d, dt = ImageDraw.Draw(panels), ImageDraw.Draw(text)
        sw, sf = max(1, round(s * 0.003)), (0, 0, 0, 170)
        header = printable(f"{model}  ·  {width}x{height}  ·  {fps} fps")
        label_y = m + round(small.size * 1.45)
        dt.text((m, m), header, font=small, fill=(255, 255, 255, 235),
                stroke_width=sw, stroke_fill=sf)
        dt.text((m, label_y), printable(label), font=small, fill=(*self.accent, 255),
                stroke_width=sw, stroke_fill=sf)
        pad, line_h = round(big.size * 0.55), round(big.size * 1.3)
        max_lines = 3 if width > height else 6
        if cover:
            right = max(small.getlength(header), small.getlength(printable(label)), 0.45 * width)
            d.rounded_rectangle((m - pad // 2, m - pad // 2, m + right + pad // 2,
                                 label_y + small.size + pad // 2), radius=pad // 2,
                                fill=(0, 0, 0, 238))
        # the prompt, word-wrapped on a translucent panel above the progress bar
        self.bar_h = max(4, _even(s * 0.008))
        lines = wrap(prompt, big, width - 2 * m - 2 * pad, max_lines)
        if lines or cover:
            rows = max_lines if cover else len(lines)
            panel_h = rows * line_h + 2 * pad - (line_h - big.size)
            top = height - self.bar_h - m - panel_h
            d.rounded_rectangle((m, top, width - m, top + panel_h), radius=pad,
                                fill=(0, 0, 0, 238 if cover else 120))
            top += (rows - len(lines)) * line_h  # text sits at the bottom of the panel
            for k, line in enumerate(lines):
                dt.text((m + pad, top + pad + k * line_h), line, font=big,
                        fill=(255, 255, 255, 245), stroke_width=sw, stroke_fill=sf)
        self.layers = _split_layers(Image.alpha_composite(panels, text))
        self.static = self.base.copy()
        for layer in self.layers:
            layer.blend(self.static)

        # the timecode badge: a neutral box (so white text only changes luma) + accent strip
        self._small = small
        self._tc_total = timecode(total_frames / fps)
        bpad = _even(small.size * 0.4)
        bw = _even(small.getlength(f"88:88.88 / {self._tc_total}") + 3 * bpad)
        bh = _even(small.size + 2 * bpad)
        badge = Image.new("RGB", (bw, bh), (20, 20, 20))
        ImageDraw.Draw(badge).rectangle((0, 0, max(2, bpad // 2) - 1, bh), fill=self.accent)
        self._badge = Canvas.from_rgb(np.asarray(badge))
        self._badge_y16 = self._badge.y.astype(np.uint16)
        self._badge_xy = (width - m - bw, max(0, m - bpad // 2) & ~1)
        self._bpad = bpad
        self._bar_colors = yuv_color((24, 24, 30)), yuv_color(self.accent)

        self.shapes: list[_Shape] = []
        for _ in range(4 + rng.below(3) if shapes else 0):
            kind = _KINDS[rng.below(len(_KINDS))]
            radius = round(rng.uniform(0.05, 0.11) * s)
            color = _rgb(hue + rng.uniform(0.1, 0.9), rng.uniform(0.5, 0.8), 0.95)
            turns = 1 if kind in ("circle", "ring") else _TURNS
            self.shapes.append(_Shape(
                _shape(kind, radius, color, (255, 255, 255), turns),
                (width / 2, rng.uniform(0.2, 0.42) * width, rng.uniform(0.04, 0.16),
                 rng.uniform(0, 2 * math.pi)),
                (height / 2, rng.uniform(0.18, 0.38) * height, rng.uniform(0.04, 0.16),
                 rng.uniform(0, 2 * math.pi)),
                rng.uniform(-120, 120),
            ))
        self._canvas: Canvas | None = None
        self._dirty: list[Rect] = []

    def _chrome(self, canvas: Canvas, i: int) -> None:
        """Timecode badge and progress bar: the parts that change on every frame."""
        badge = self._badge
        mask = Image.new("L", (badge.width, badge.height), 0)
        ImageDraw.Draw(mask).text(
            (self._bpad * 1.5, self._bpad), f"{timecode(i / self.fps)} / {self._tc_total}",
            font=self._small, fill=255)
        ink = np.asarray(mask, np.uint16)
        x, y = self._badge_xy
        bg = self._badge_y16
        canvas.y[y : y + badge.height, x : x + badge.width] = bg + ((235 - bg) * ink + 127) // 255
        cy, cx, ch, cw = y // 2, x // 2, badge.height // 2, badge.width // 2
        canvas.u[cy : cy + ch, cx : cx + cw] = badge.u
        canvas.v[cy : cy + ch, cx : cx + cw] = badge.v
        h, w = self.height, self.width
        done = min(w, _even(w * (i + 1) / max(1, self.total)))
        track, fill = self._bar_colors
        canvas.fill((h - self.bar_h, h, done, w), track)
        canvas.fill((h - self.bar_h, h, 0, done), fill)

    def frame(self, i: int) -> Canvas:
        """Frame ``i`` over the scene's background. Returns an internal canvas that the
        next call changes: write it out (or copy it) before asking for the next one."""
        if self._canvas is None:
            self._canvas = self.static.copy()
        canvas = self._canvas
        t = i / self.fps
        sprites = [shape.at(t) for shape in self.shapes]
        h, w = self.height, self.width
        rects = _merge([
            (max(0, y0), min(h, y1), max(0, x0), min(w, x1))
            for y0, y1, x0, x1 in (sprite.rect for sprite in sprites)
            if y0 < h and y1 > 0 and x0 < w and x1 > 0
        ])
        for rect in self._dirty:
            canvas.paste(self.static, rect)
        for rect in rects:
            canvas.paste(self.base, rect)
        for sprite in sprites:
            sprite.blend(canvas)
        for rect in rects:
            for layer in self.layers:
                layer.blend(canvas, rect)
        self._dirty = rects
        self._chrome(canvas, i)
        return canvas

    def decorate(self, canvas: Canvas, i: int) -> None:
        """Draw shapes, text and chrome of frame ``i`` onto ``canvas`` in place."""
        t = i / self.fps
        for shape in self.shapes:
            shape.at(t).blend(canvas)
        for layer in self.layers:
            layer.blend(canvas)
        self._chrome(canvas, i)
