"""The reference image of a request (``input_reference``): read from a path, bytes or a PIL
image, checked against the video's size, and fitted (``ImageFit``: crop or pad) if asked."""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from ._errors import SoraParameterError
from ._types import SIZES

__all__ = ["IMAGE_FITS", "ImageFit", "ReferenceImage", "load_reference"]


#: How a reference image of another size is made to fit: cropped to fill, or padded.
ImageFit = Literal["crop", "pad"]
IMAGE_FITS: tuple[ImageFit, ...] = ("crop", "pad")
_MIMES: dict[str, str] = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_EXTENSIONS: dict[str, str] = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
_REF_ALLOWED = "a PNG, JPEG or WebP image: a file path, bytes or a PIL.Image.Image"


@dataclass(frozen=True)
class ReferenceImage:
    """An image ready to upload as ``input_reference``; ``size`` is its pixel size."""

    data: bytes = field(repr=False)
    mime: str
    filename: str
    sha256: str
    size: str


def _parse_size(size: str) -> tuple[int, int]:
    match = (
        re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", size) if isinstance(size, str) else None
    )
    if match is None or 0 in (int(match[1]), int(match[2])):
        raise SoraParameterError("size", size, "'WxH', e.g. " + ", ".join(SIZES))
    return int(match[1]), int(match[2])


def _reference_from(data: bytes, filename: str, fmt: str) -> ReferenceImage:
    sha = hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    return ReferenceImage(data, _MIMES[fmt], filename, sha, f"{width}x{height}")


def _rgb(img: Image.Image) -> Image.Image:
    """``img`` as RGB or RGBA (transparency kept), ready for resizing and PNG."""
    if img.mode in ("RGB", "RGBA"):
        return img
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def _fit(img: Image.Image, width: int, height: int, fit: ImageFit) -> Image.Image:
    w, h = img.size
    if fit == "crop":  # scale to cover, then cut the centre
        scale = max(width / w, height / h)
        box_w, box_h = width / scale, height / scale
        left, top = (w - box_w) / 2, (h - box_h) / 2
        return img.resize(
            (width, height), Image.Resampling.LANCZOS, box=(left, top, left + box_w, top + box_h)
        )
    scale = min(width / w, height / h)  # "pad": scale to fit, letterbox in black
    new_w = min(width, max(1, round(w * scale)))
    new_h = min(height, max(1, round(h * scale)))
    black = (0, 0, 0, 255) if img.mode == "RGBA" else (0, 0, 0)
    canvas = Image.new(img.mode, (width, height), black)
    canvas.paste(
        img.resize((new_w, new_h), Image.Resampling.LANCZOS),
        ((width - new_w) // 2, (height - new_h) // 2),
    )
    return canvas


def load_reference(
    ref: str | os.PathLike[str] | bytes | Image.Image | ReferenceImage,
    size: str | None,
    fit: ImageFit | None = None,
) -> ReferenceImage:
    """Read and check a reference image for a video of ``size`` pixels.

    PNG, JPEG and WebP files or bytes pass through byte for byte when they already have
    ``size`` pixels. Otherwise ``fit="crop"`` scales to cover and centre-crops, ``fit="pad"``
    scales to fit and letterboxes in black, and the result is PNG-encoded; with ``fit=None``
    a size mismatch or another format (GIF, BMP, ...) is refused. A ``PIL.Image.Image`` of
    the right size is PNG-encoded as it is. ``size=None`` (a generic server choosing its
    own size) takes the image at its own size.
    """
    if fit is not None and fit not in IMAGE_FITS:
        raise SoraParameterError("fit", fit, "'crop', 'pad' or None")
    if size is None:
        if isinstance(ref, ReferenceImage):
            return ref
        if fit is not None:
            raise SoraParameterError("fit", fit, "None when no size is given",
                                     detail="crop and pad need size='WxH' to fit to")
        own = ref if isinstance(ref, Image.Image) else _decode(ref, None)[0]
        size = f"{own.width}x{own.height}"
    width, height = _parse_size(size)
    wanted = f"{width}x{height}"
    if isinstance(ref, ReferenceImage):
        if ref.size == wanted:
            return ref
        img, data, stem = _decode(ref.data, ref.filename)
    elif isinstance(ref, Image.Image):
        img, data, stem = ref, None, "reference"
    else:
        img, data, stem = _decode(ref, None)
    actual = f"{img.width}x{img.height}"
    fmt = img.format if data is not None else None
    if fmt in _MIMES and actual == wanted and data is not None:
        return _reference_from(data, stem + _EXTENSIONS[fmt], fmt)
    if fit is None and data is not None and fmt not in _MIMES:
        raise SoraParameterError(
            "input_reference",
            ref,
            _REF_ALLOWED,
            detail=f"{fmt or 'this format'} is not accepted; pass fit='crop' or fit='pad' "
            "to convert it to PNG",
        )
    if fit is None and actual != wanted:
        raise SoraParameterError(
            "input_reference",
            ref,
            f"an image of exactly {wanted} pixels (the size requested)",
            detail=f"the image is {actual} but size is {wanted}; pass fit='crop' to scale "
            "and cut the centre, or fit='pad' to scale and letterbox in black",
        )
    out = _rgb(img)
    if actual != wanted:
        out = _fit(out, width, height, fit or "crop")
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return _reference_from(buffer.getvalue(), stem + ".png", "PNG")


def _decode(ref: object, filename: str | None) -> tuple[Image.Image, bytes, str]:
    """Read ``ref`` (a path or bytes) and decode it: (image, the bytes, a file stem)."""
    if isinstance(ref, (bytes, bytearray, memoryview)):
        data, stem = bytes(ref), Path(filename).stem if filename else "reference"
    elif isinstance(ref, (str, os.PathLike)):
        path = Path(ref).expanduser()
        if not path.is_file():
            why = "not a file" if path.exists() else f"no such file: {path}"
            raise SoraParameterError("input_reference", ref, _REF_ALLOWED, detail=why)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SoraParameterError(
                "input_reference", ref, _REF_ALLOWED, detail=f"cannot read it: {exc}"
            ) from None
        stem = path.stem
    else:
        raise SoraParameterError("input_reference", ref, _REF_ALLOWED)
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SoraParameterError(
            "input_reference", ref, _REF_ALLOWED, detail=f"cannot decode it as an image: {exc}"
        ) from None
    return img, data, stem


# -- the whole request ---------------------------------------------------------------------


