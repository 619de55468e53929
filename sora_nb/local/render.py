"""The embedded backend's renderer: ``render(RenderSpec, out_dir)`` writes a real H.264/AAC
MP4, a WebP thumbnail and a JPEG spritesheet, deterministically, by piping frames to ffmpeg."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from PIL import Image

from .._errors import SoraMediaError, SoraParameterError
from .._ffmpeg import MediaInfo, probe
from .._fs import atomic_path
from . import _render_audio as audio
from ._render_pipe import decode, encode
from ._render_scene import Scene
from ._render_yuv import Canvas

__all__ = ["RENDER_VERSION", "SIZES", "RenderResult", "RenderSpec", "render"]

RENDER_VERSION = "1"  # part of every key: bump it whenever the output of a spec changes
#: The Sora API's sizes; the renderer also draws any other even size within MIN_SIDE..MAX_SIDE
#: (servers such as vLLM-Omni accept any WxH).
SIZES = ((720, 1280), (1280, 720), (1024, 1792), (1792, 1024))
MIN_SIDE, MAX_SIDE = 16, 4096
Kind = Literal["create", "remix", "edit", "extend"]
MAX_SECONDS = 600.0
SPRITE_COLUMNS = 10
SPRITE_LONG_SIDE = 160


def _file_digest(path: Path, param: str) -> str:
    try:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError as exc:
        raise SoraParameterError(param, str(path), "a readable file",
                                 detail=exc.strerror or type(exc).__name__) from None


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides what ``render`` draws. ``seconds`` is the total duration of
    the output (for an extension: source plus new part)."""

    prompt: str
    model: str
    width: int
    height: int
    seconds: float
    kind: Kind = "create"
    source: Path | None = None
    source_id: str | None = None
    reference: Path | None = None
    fps: int = 24
    #: A seed of the picture (colours and shapes); None keeps the prompt's own look.
    seed: int | None = None
    #: Request options drawn under the label (e.g. "seed 7 · 30 steps"), part of the key.
    details: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str):
            raise SoraParameterError("prompt", self.prompt, "a string")
        if not isinstance(self.model, str) or not self.model.strip():
            raise SoraParameterError("model", self.model, "a non-empty string")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v % 2 == 0
                   and MIN_SIDE <= v <= MAX_SIDE for v in (self.width, self.height)):
            raise SoraParameterError(
                "size", f"{self.width}x{self.height}",
                f"even width and height from {MIN_SIDE} to {MAX_SIDE} (H.264 4:2:0 needs even "
                "sides), e.g. " + ", ".join(f"{w}x{h}" for w, h in SIZES),
            )
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise SoraParameterError("seed", self.seed, "an int or None")
        if not isinstance(self.details, str):
            raise SoraParameterError("details", self.details, "a string")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float) or not (
            0 < self.seconds <= MAX_SECONDS and math.isfinite(self.seconds)
        ):
            raise SoraParameterError("seconds", self.seconds,
                                     f"a number of seconds > 0 and <= {MAX_SECONDS:g}")
        if isinstance(self.fps, bool) or not isinstance(self.fps, int) or not 1 <= self.fps <= 60:
            raise SoraParameterError("fps", self.fps, "an integer from 1 to 60")
        if self.kind not in get_args(Kind):
            raise SoraParameterError("kind", self.kind, f"one of {', '.join(get_args(Kind))}")
        if self.kind == "create" and self.source is not None:
            raise SoraParameterError("source", self.source, "None when kind='create'")
        if self.kind != "create" and self.source is None:
            raise SoraParameterError("source", None, f"a video file when kind={self.kind!r}")
        if round(self.seconds * self.fps) < 1:
            raise SoraParameterError("seconds", self.seconds,
                                     f"at least one frame at {self.fps} fps")

    @property
    def frames(self) -> int:
        """Number of frames of the output: ``round(seconds * fps)``."""
        return round(self.seconds * self.fps)

    def key(self) -> str:
        """A stable hex digest of everything that affects the output (files by content)."""
        fields = {
            "version": RENDER_VERSION, "prompt": self.prompt, "model": self.model,
            "width": self.width, "height": self.height, "seconds": float(self.seconds),
            "kind": self.kind, "source_id": self.source_id, "fps": self.fps,
            "source": None if self.source is None else _file_digest(Path(self.source), "source"),
            "reference": None if self.reference is None
            else _file_digest(Path(self.reference), "reference"),
        }
        # only when set, so that the keys (and cached renders) of plain specs stay as they were
        if self.seed is not None:
            fields["seed"] = self.seed
        if self.details:
            fields["details"] = self.details
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class RenderResult:
    """The files ``render`` wrote, and the layout of the spritesheet."""

    video: Path
    thumbnail: Path
    spritesheet: Path
    spritesheet_grid: tuple[int, int]  # (columns, rows)
    spritesheet_frame_size: tuple[int, int]  # (width, height) of one tile


def _label(spec: RenderSpec) -> str:
    source = spec.source_id or "a video"
    if spec.kind == "create":
        return "image to video" if spec.reference is not None else "text to video"
    return {"remix": "remix of", "edit": "edit of", "extend": "extension of"}[spec.kind] + (
        f" {source}")


def _reference(spec: RenderSpec) -> Canvas | None:
    """The reference image as an RGB frame of the output size (cover-cropped if needed)."""
    if spec.reference is None:
        return None
    try:
        with Image.open(spec.reference) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise SoraParameterError("reference", str(spec.reference), "a PNG, JPEG or WebP image",
                                 detail=str(exc)) from None
    if rgb.size != (spec.width, spec.height):
        scale = max(spec.width / rgb.width, spec.height / rgb.height)
        w = max(spec.width, round(rgb.width * scale))
        h = max(spec.height, round(rgb.height * scale))
        rgb = rgb.resize((w, h), Image.Resampling.LANCZOS)
        left, top = (w - spec.width) // 2, (h - spec.height) // 2
        rgb = rgb.crop((left, top, left + spec.width, top + spec.height))
    return Canvas.from_rgb(np.asarray(rgb))


def _soundtrack(spec: RenderSpec, source: MediaInfo | None) -> audio.Audio:
    """The output's audio: a new soundtrack, mixed with (remix, edit) or appended to
    (extend) the source's own audio."""
    rate = audio.SAMPLE_RATE
    total = round(spec.frames / spec.fps * rate)
    if spec.kind == "create" or source is None:
        return audio.fit(audio.soundtrack(spec.prompt, total / rate), total, loop=False)
    assert spec.source is not None
    src = (audio.read_audio(Path(spec.source)) if source.has_audio
           else np.zeros((0, 2), np.float32))
    if spec.kind == "extend":
        head = min(total, round(min(spec.frames, round(source.duration * spec.fps))
                                / spec.fps * rate))
        tail = audio.soundtrack(spec.prompt, (total - head) / rate)
        joined = np.concatenate([audio.fit(src, head, loop=False), tail])
        return audio.fit(joined, total, loop=False)
    new = audio.fit(audio.soundtrack(spec.prompt, total / rate), total, loop=False)
    keep, add = (0.5, 0.6) if spec.kind == "remix" else (0.8, 0.3)
    mixed: audio.Audio = np.clip(keep * audio.fit(src, total, loop=True) + add * new, -1.0, 1.0)
    return mixed.astype(np.float32)


def _scene(spec: RenderSpec, background: Canvas | None = None, *, shapes: bool = True,
           cover: bool = False) -> Scene:
    label = _label(spec) + (f"  ·  {spec.details}" if spec.details else "")
    return Scene(prompt=spec.prompt, model=spec.model, width=spec.width, height=spec.height,
                 fps=spec.fps, total_frames=spec.frames, label=label,
                 background=background, shapes=shapes, cover=cover, seed=spec.seed)


def _frames(spec: RenderSpec, background: Canvas | None) -> Generator[Canvas, None, None]:
    """Every frame of the output in order. A yielded canvas may be reused afterwards."""
    n = spec.frames
    if spec.kind == "create":
        scene = _scene(spec, background)
        for i in range(n):
            yield scene.frame(i)
        return
    assert spec.source is not None
    size = (spec.width, spec.height)
    if spec.kind in ("remix", "edit"):
        # remix: the source regraded (hue turned by an angle from the prompt); edit: the
        # source nearly as it was, with the new prompt's shapes drawn into it
        turn = 60 + hashlib.sha256(spec.prompt.encode("utf-8")).digest()[0] / 255 * 240
        restyle = (f"hue=h={turn:.1f}:s=1.35,eq=contrast=1.12" if spec.kind == "remix"
                   else "eq=saturation=1.15:brightness=0.02")
        scene = _scene(spec, shapes=spec.kind == "edit", cover=True)
        with contextlib.closing(decode(Path(spec.source), size, spec.fps, restyle,
                                       loop=True)) as frames:
            for i, frame in zip(range(n), frames, strict=False):
                scene.decorate(frame, i)
                yield frame
        return
    # extend: the source untouched, then new frames that continue from its last frame
    i, last = 0, None
    with contextlib.closing(decode(Path(spec.source), size, spec.fps, "", loop=False)) as frames:
        for frame in frames:
            yield frame
            last, i = frame, i + 1
            if i == n:
                break
    if i < n and last is not None:
        scene = _scene(spec, last.copy(), cover=True)
        for k in range(i, n):
            yield scene.frame(k)


class _Sampler:
    """Picks the thumbnail frame and the spritesheet tiles as frames go by."""

    def __init__(self, spec: RenderSpec, thumb_index: int) -> None:
        n = spec.frames
        rows = max(1, round(n / spec.fps / 4))
        self.grid = (SPRITE_COLUMNS, rows)
        scale = SPRITE_LONG_SIDE / max(spec.width, spec.height)
        self.tile = (max(1, round(spec.width * scale)), max(1, round(spec.height * scale)))
        count = SPRITE_COLUMNS * rows
        self._tiles: dict[int, list[int]] = {}
        for k in range(count):
            self._tiles.setdefault(min(n - 1, (2 * k + 1) * n // (2 * count)), []).append(k)
        self._thumb_index = min(n - 1, thumb_index)
        self.sheet = Image.new("RGB", (self.tile[0] * self.grid[0], self.tile[1] * rows))
        self.thumbnail: Image.Image | None = None

    def __call__(self, i: int, frame: Canvas) -> None:
        if i == self._thumb_index:
            self.thumbnail = frame.image()
        if i in self._tiles:
            tile = frame.image(self.tile)
            for k in self._tiles[i]:  # tiles share a frame when there are fewer frames
                cols = self.grid[0]
                self.sheet.paste(tile, ((k % cols) * self.tile[0], (k // cols) * self.tile[1]))


def render(spec: RenderSpec, out_dir: Path) -> RenderResult:
    """Render ``spec`` into ``out_dir``: video.mp4 (H.264 yuv420p + AAC, faststart),
    thumbnail.webp and spritesheet.jpg. Synchronous and CPU-bound; each file appears
    atomically and only once all three are complete. Same spec, same bytes."""
    out_dir = Path(out_dir)
    info: MediaInfo | None = None
    if spec.source is not None:
        source = Path(spec.source)
        if not source.is_file():
            raise SoraParameterError("source", str(source), "an existing video file")
        info = probe(source)
        if not info.has_video:
            raise SoraMediaError(f"the source {source.name} has no video stream")
    background = _reference(spec)
    sound = _soundtrack(spec, info)
    n = spec.frames
    thumb = n // 2
    if spec.kind == "extend" and info is not None:
        thumb = (min(n, round(info.duration * spec.fps)) + n) // 2
    sampler = _Sampler(spec, thumb)
    targets = (out_dir / "video.mp4", out_dir / "thumbnail.webp", out_dir / "spritesheet.jpg")
    out_dir.mkdir(parents=True, exist_ok=True)
    # scratch files live in out_dir too, under a dot name, so that whoever sweeps the
    # leftovers of a killed render (the server does) finds them in one place
    with tempfile.TemporaryDirectory(prefix=".render-", dir=out_dir) as tmp, \
            contextlib.ExitStack() as stack:
        wav = Path(tmp) / "audio.wav"
        audio.write_wav(wav, sound)
        # entered in this order, renamed in reverse: the video appears last
        video, thumbnail, sheet = (stack.enter_context(atomic_path(t)) for t in targets)
        frames = stack.enter_context(contextlib.closing(_frames(spec, background)))
        written = encode(frames, size=(spec.width, spec.height), fps=spec.fps, audio=wav,
                         out=video, log=Path(tmp) / "ffmpeg.log", each=sampler)
        if written != n or sampler.thumbnail is None:
            raise SoraMediaError(f"rendered {written} frames instead of {n}")
        sampler.thumbnail.save(thumbnail, "WEBP", quality=82, method=2)
        sampler.sheet.save(sheet, "JPEG", quality=80)
    return RenderResult(*targets, spritesheet_grid=sampler.grid,
                        spritesheet_frame_size=sampler.tile)
