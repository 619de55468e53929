"""Planar YUV 4:2:0 (BT.709, limited range) frames for the renderer: ``Canvas`` is exactly
what ffmpeg reads, and ``Layer`` composites premultiplied RGBA art onto it in place."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["Canvas", "Layer", "Rect", "rgb_to_yuv", "yuv_color", "yuv_to_rgb"]

U8 = NDArray[np.uint8]
U16 = NDArray[np.uint16]
F32 = NDArray[np.float32]
Rect = tuple[int, int, int, int]  # y0, y1, x0, x1 in luma pixels, all even (half-open)

_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB
# full-range RGB (0..255) -> limited-range Y'CbCr, rows Y, Cb, Cr
_TO_YUV = np.array([
    [219 * _KR, 219 * _KG, 219 * _KB],
    [-112 * _KR / (1 - _KB), -112 * _KG / (1 - _KB), 112.0],
    [112.0, -112 * _KG / (1 - _KR), -112 * _KB / (1 - _KR)],
], dtype=np.float32) / 255
_OFFSET = np.array([16, 128, 128], dtype=np.float32)
_TO_RGB = np.linalg.inv(_TO_YUV).astype(np.float32)


def rgb_to_yuv(rgb: NDArray[np.generic]) -> F32:
    """(..., 3) RGB 0..255 -> (..., 3) float Y, Cb, Cr (limited range, BT.709)."""
    out: F32 = (np.asarray(rgb, np.float32) @ _TO_YUV.T + _OFFSET).astype(np.float32)
    return out


def yuv_to_rgb(yuv: NDArray[np.generic]) -> U8:
    """(..., 3) Y, Cb, Cr -> (..., 3) RGB uint8 (clipped)."""
    rgb = (np.asarray(yuv, np.float32) - _OFFSET) @ _TO_RGB.T
    out: U8 = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return out


def _half(a: NDArray[np.generic]) -> F32:
    """Mean of each 2x2 block of the first two axes (both even)."""
    f = np.asarray(a, np.float32)
    out: F32 = (f[0::2, 0::2] + f[1::2, 0::2] + f[0::2, 1::2] + f[1::2, 1::2]) * np.float32(0.25)
    return out


class Canvas:
    """One yuv420p frame in a single contiguous buffer (``buf``), with plane views."""

    __slots__ = ("buf", "height", "u", "v", "width", "y")

    def __init__(self, width: int, height: int, buf: U8 | None = None) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"a yuv420p canvas needs even sizes, not {width}x{height}")
        n = width * height
        self.width, self.height = width, height
        self.buf: U8 = np.zeros(n * 3 // 2, np.uint8) if buf is None else buf
        self.y: U8 = self.buf[:n].reshape(height, width)
        self.u: U8 = self.buf[n : n + n // 4].reshape(height // 2, width // 2)
        self.v: U8 = self.buf[n + n // 4 :].reshape(height // 2, width // 2)

    @classmethod
    def from_rgb(cls, rgb: NDArray[np.generic]) -> Canvas:
        h, w = rgb.shape[:2]
        canvas = cls(w, h)
        canvas.y[...] = np.clip(rgb_to_yuv(rgb)[:, :, 0] + 0.5, 0, 255)
        chroma = rgb_to_yuv(_half(rgb))
        canvas.u[...] = np.clip(chroma[:, :, 1] + 0.5, 0, 255)
        canvas.v[...] = np.clip(chroma[:, :, 2] + 0.5, 0, 255)
        return canvas

    def copy(self) -> Canvas:
        return Canvas(self.width, self.height, self.buf.copy())

    def paste(self, src: Canvas, rect: Rect) -> None:
        """Copy ``rect`` of ``src`` (same size canvas) into this canvas."""
        y0, y1, x0, x1 = rect
        self.y[y0:y1, x0:x1] = src.y[y0:y1, x0:x1]
        c = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
        self.u[c] = src.u[c]
        self.v[c] = src.v[c]

    def fill(self, rect: Rect, yuv: tuple[int, int, int]) -> None:
        y0, y1, x0, x1 = rect
        self.y[y0:y1, x0:x1] = yuv[0]
        self.u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = yuv[1]
        self.v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = yuv[2]

    def image(self, size: tuple[int, int] | None = None) -> Image.Image:
        """This frame as an RGB image, at ``size`` if given (each plane resized first,
        so small tiles cost little)."""
        size = size or (self.width, self.height)

        def plane(p: U8) -> U8:
            if (p.shape[1], p.shape[0]) == size:
                return p
            shrink = size[0] < p.shape[1]
            method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
            return np.asarray(Image.fromarray(p).resize(size, method))

        yuv = np.stack([plane(self.y), plane(self.u), plane(self.v)], axis=-1)
        return Image.fromarray(yuv_to_rgb(yuv))


def yuv_color(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    y, u, v = (round(float(c)) for c in rgb_to_yuv(np.asarray(rgb)))
    return y, u, v


@dataclass(frozen=True)
class Layer:
    """Premultiplied art at even (x, y): per plane ``pre`` = value * a and ``inv`` =
    256 - a, with a in 0..256, so blending is ``(dst * inv + pre) >> 8`` in uint16."""

    x: int
    y: int
    pre_y: U16
    inv_y: U16
    pre_u: U16
    pre_v: U16
    inv_c: U16

    @classmethod
    def from_rgba(cls, image: Image.Image, x: int = 0, y: int = 0) -> Layer:
        img = image.convert("RGBA")
        left, top = x % 2, y % 2  # align to the chroma grid
        w, h = img.width + left, img.height + top
        w, h = w + w % 2, h + h % 2
        if (w, h) != img.size:
            padded = Image.new("RGBA", (w, h), (0, 0, 0, 0))
            padded.paste(img, (left, top))
            img = padded
        arr = np.asarray(img, np.float32)
        a = np.round(arr[:, :, 3] * 256 / 255)
        yuv = rgb_to_yuv(arr[:, :, :3])
        ac = _half(a)
        u16 = np.uint16
        return cls(
            x - left, y - top,
            np.round(yuv[:, :, 0] * a).astype(u16), (256 - a).astype(u16),
            np.round(_half(yuv[:, :, 1] * a)).astype(u16),
            np.round(_half(yuv[:, :, 2] * a)).astype(u16),
            (256 - np.round(ac)).astype(u16),
        )

    def moved(self, x: int, y: int) -> Layer:
        return Layer(x & ~1, y & ~1, self.pre_y, self.inv_y, self.pre_u, self.pre_v, self.inv_c)

    @property
    def rect(self) -> Rect:
        return self.y, self.y + self.pre_y.shape[0], self.x, self.x + self.pre_y.shape[1]

    def blend(self, canvas: Canvas, clip: Rect | None = None) -> None:
        """Composite this layer over ``canvas`` in place, limited to ``clip`` if given."""
        y0, y1, x0, x1 = self.rect
        cy0, cy1, cx0, cx1 = clip if clip is not None else (0, canvas.height, 0, canvas.width)
        top, bottom = max(y0, cy0, 0), min(y1, cy1, canvas.height)
        left, right = max(x0, cx0, 0), min(x1, cx1, canvas.width)
        if top >= bottom or left >= right:
            return
        src = (slice(top - y0, bottom - y0), slice(left - x0, right - x0))
        _mix(canvas.y[top:bottom, left:right], self.pre_y[src], self.inv_y[src])
        dst = (slice(top // 2, bottom // 2), slice(left // 2, right // 2))
        src = (slice((top - y0) // 2, (bottom - y0) // 2),
               slice((left - x0) // 2, (right - x0) // 2))
        inv = self.inv_c[src]
        _mix(canvas.u[dst], self.pre_u[src], inv)
        _mix(canvas.v[dst], self.pre_v[src], inv)


def _mix(dst: U8, pre: U16, inv: U16) -> None:
    mix = dst * inv
    mix += pre
    mix >>= 8
    dst[...] = mix
