"""Stills made from a downloaded MP4 with ffmpeg, for servers that have no thumbnail or
spritesheet of their own: a WebP thumbnail of the middle frame, a JPEG spritesheet grid."""

from __future__ import annotations

from pathlib import Path

from ._errors import SoraMediaError
from ._ffmpeg import probe, run_ffmpeg
from ._fs import atomic_path

__all__ = ["SPRITE_COLUMNS", "SPRITE_LONG_SIDE", "make_spritesheet", "make_thumbnail"]

#: The embedded backend's layout (sora_nb/local/render.py): 10 columns, a row per 4 s of
#: video, tiles 160 px on their long side; the spritesheet scrubber reads either.
SPRITE_COLUMNS = 10
SPRITE_LONG_SIDE = 160


def make_thumbnail(video: Path, target: Path) -> Path:
    """Write the middle frame of ``video`` to ``target`` as WebP (atomically)."""
    info = probe(video)
    if not info.has_video:
        raise SoraMediaError(f"{video.name} has no video stream to take a thumbnail from")
    middle = max(0.0, info.duration / 2)
    with atomic_path(target, suffix=".webp") as tmp:
        run_ffmpeg(["-y", "-ss", f"{middle:.3f}", "-i", str(video), "-frames:v", "1",
                    "-c:v", "libwebp", "-quality", "82", "-f", "webp", str(tmp)])
        _nonempty(tmp, "thumbnail")
    return target


def make_spritesheet(video: Path, target: Path) -> Path:
    """Write a JPEG grid of frames sampled evenly through ``video`` to ``target``: 10
    columns, one row per 4 seconds. Each tile's left and top edges are a black line and
    its right and bottom edges a white one, so every boundary between two tiles is a
    white-to-black seam whatever the picture (how ``sprite_grid`` finds the grid), while
    every tile keeps the exact size of the others."""
    info = probe(video)
    if not info.has_video or not info.width or not info.height:
        raise SoraMediaError(f"{video.name} has no video stream to make a spritesheet from")
    rows = max(1, round(info.duration / 4))
    count = SPRITE_COLUMNS * rows
    scale = SPRITE_LONG_SIDE / max(info.width, info.height)
    # even sides: yuvj420p (what the JPEG encoder takes) halves the chroma planes
    tile_w = max(2, round(info.width * scale / 2) * 2)
    tile_h = max(2, round(info.height * scale / 2) * 2)
    rate = count / max(info.duration, 1e-3)
    graph = (f"fps={rate:.6f},scale={tile_w}:{tile_h},"
             "drawbox=x=0:y=0:w=1:h=ih:color=black:t=fill,drawbox=x=0:y=0:w=iw:h=1:color=black:t=fill,"
             "drawbox=x=iw-1:y=0:w=1:h=ih:color=white:t=fill,"
             "drawbox=x=0:y=ih-1:w=iw:h=1:color=white:t=fill,"
             f"tile={SPRITE_COLUMNS}x{rows}")
    with atomic_path(target, suffix=".jpg") as tmp:
        run_ffmpeg(["-y", "-i", str(video), "-an", "-vf", graph, "-frames:v", "1",
                    "-q:v", "3", "-f", "image2", "-c:v", "mjpeg", str(tmp)])
        _nonempty(tmp, "spritesheet")
    return target


def _nonempty(path: Path, what: str) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise SoraMediaError(f"ffmpeg wrote no {what}")
