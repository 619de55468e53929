"""The local server's state on disk: one JSON file per job, per idempotency key and per
render, each written atomically, so a later server on the same data_dir finds them all."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from .._fs import TEMP_PATTERN, atomic_write_bytes, atomic_write_text
from .._types import TERMINAL, Status

__all__ = [
    "EXPIRY_SECONDS",
    "VARIANT_FIELDS",
    "Job",
    "JobStore",
    "RenderFiles",
]

log = logging.getLogger("sora_nb.local")

#: Assets expire 24 h after creation, as the hosted API says in ``expires_at``.
EXPIRY_SECONDS = 24 * 60 * 60
VARIANT_FIELDS: tuple[str, ...] = ("video", "thumbnail", "spritesheet")
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_SAFE_ID = re.compile(r"char_[0-9a-f]{1,64}")


@dataclass
class Job:
    """One video job as the server keeps it. Times are Unix seconds (floats)."""

    id: str
    seq: int
    prompt: str
    model: str
    size: str
    #: What the API reports: "4", "8", "12", or the stitched total of an extension.
    seconds: str
    created_at: float
    #: Simulated run time of this job, fixed at creation.
    job_seconds: float
    kind: str = "create"
    status: Status = "queued"
    completed_at: float | None = None
    #: Progress frozen when the job failed.
    final_progress: int = 0
    error_code: str | None = None
    error_message: str | None = None
    #: A failure planned at creation: {"at": fraction, "code": ..., "message": ...}.
    planned_failure: dict[str, Any] | None = None
    source_id: str | None = None
    remixed_from: str | None = None
    #: Render key of the source video (remix, edit, extension), kept on disk while used.
    source_key: str | None = None
    #: File name of the reference image under ``uploads/``.
    reference: str | None = None
    #: File name of an uploaded source video (edit, extension) under ``uploads/``.
    source_upload: str | None = None
    render_key: str | None = None
    # What a dialect other than "sora" adds (see _server_dialects): frame rate, seed and
    # extension options of the request, the size as the request gave it (None: none), the
    # upstream id behind a gateway, and seconds after completion until the assets expire.
    fps: int | None = None
    seed: int | None = None
    options: dict[str, Any] | None = None
    size_shown: str | None = None
    upstream_id: str | None = None
    expire_after: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def expired(self, now: float) -> bool:
        """Completed, and its assets are past ``expire_after`` (never without it)."""
        return (self.expire_after is not None and self.status == "completed"
                and self.completed_at is not None
                and now >= self.completed_at + self.expire_after)

    def progress(self, now: float) -> int:
        """Percent done: 0 while queued, rising with elapsed time while in progress but
        capped at 99 until the render is really done, 100 once completed."""
        if self.status == "completed":
            return 100
        if self.status == "failed":
            return self.final_progress
        if self.status == "queued":
            return 0
        span = max(self.job_seconds, 1.0)
        return max(1, min(99, int(100 * (now - self.created_at) / span)))

    def to_api(self, now: float) -> dict[str, Any]:
        """The ``Video`` object of the OpenAI API."""
        error = None
        if self.status == "failed":
            code = self.error_code or "internal_error"
            error = {"code": code, "message": self.error_message or ""}
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": self.status,
            "progress": self.progress(now),
            "created_at": int(self.created_at),
            "completed_at": int(self.completed_at) if self.completed_at is not None else None,
            "expires_at": (int(self.completed_at + self.expire_after)
                           if self.expire_after is not None and self.completed_at is not None
                           else int(self.created_at) + EXPIRY_SECONDS),
            "error": error,
            "prompt": self.prompt,
            "remixed_from_video_id": self.remixed_from,
            "seconds": self.seconds,
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class RenderFiles:
    """The files of one finished render."""

    video: Path
    thumbnail: Path
    spritesheet: Path

    def variant(self, name: str) -> Path:
        path: Path = getattr(self, name)
        return path

    def exist(self) -> bool:
        return all(self.variant(name).is_file() for name in VARIANT_FIELDS)


class JobStore:
    """Every job, idempotency key and render of one server, mirrored on disk under ``root``.
    Used only from the server's event loop thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs_dir = root / "jobs"
        self.keys_dir = root / "idempotency"
        self.renders_dir = root / "renders"
        self.uploads_dir = root / "uploads"
        self.characters_dir = root / "characters"
        for folder in (self.jobs_dir, self.keys_dir, self.renders_dir, self.uploads_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, Job] = {}
        self._seq = 0

    # jobs ---------------------------------------------------------------------------------

    def load(self) -> list[Job]:
        """Read the jobs a previous server left here; return those not yet terminal."""
        loaded: list[Job] = []
        for path in self.jobs_dir.glob("*.json"):
            if TEMP_PATTERN.match(path.name):  # a write in flight, or a killed writer's
                continue  # (pathlib's glob does not hide dot files)
            try:
                loaded.append(Job.from_dict(json.loads(path.read_text("utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("sora_nb.local: skipping unreadable job file %s: %s", path.name, exc)
        loaded.sort(key=lambda job: (job.seq, job.created_at))
        for job in loaded:
            self._jobs[job.id] = job
            self._seq = max(self._seq, job.seq)
        return [job for job in loaded if not job.terminal]

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, video_id: str) -> Job | None:
        return self._jobs.get(video_id)

    def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        self.save(job)

    def _job_path(self, video_id: str) -> Path:
        """The job's file: named after the id when it is short and plain, else after its
        hash (a gateway's ids are 266 characters of base64, which may hold "/")."""
        if _PLAIN_ID.fullmatch(video_id):
            return self.jobs_dir / f"{video_id}.json"
        return self.jobs_dir / f"{hashlib.sha256(video_id.encode()).hexdigest()[:40]}.json"

    def save(self, job: Job) -> None:
        if job.id in self._jobs:
            atomic_write_text(self._job_path(job.id), json.dumps(asdict(job)))

    def delete(self, video_id: str) -> Job | None:
        """Forget a job and remove its file, its render and its upload unless another
        job still uses them."""
        job = self._jobs.pop(video_id, None)
        if job is None:
            return None
        self._job_path(video_id).unlink(missing_ok=True)
        others = list(self._jobs.values())
        used = {o.render_key for o in others} | {o.source_key for o in others}
        if job.render_key and job.render_key not in used:
            shutil.rmtree(self.renders_dir / job.render_key, ignore_errors=True)
        if job.reference and not any(o.reference == job.reference for o in others):
            (self.uploads_dir / job.reference).unlink(missing_ok=True)
        if job.source_upload and not any(o.source_upload == job.source_upload for o in others):
            (self.uploads_dir / job.source_upload).unlink(missing_ok=True)
        return job

    def page(
        self, *, limit: int, after: str | None, order: Literal["asc", "desc"]
    ) -> tuple[list[Job], bool]:
        """One page of jobs in creation order (``asc``) or newest first (``desc``),
        starting after the job ``after``; raises KeyError if ``after`` is unknown."""
        ordered = list(self._jobs.values())
        if order == "desc":
            ordered.reverse()
        start = 0
        if after is not None:
            ids = [job.id for job in ordered]
            start = ids.index(after) + 1 if after in self._jobs else -1
            if start < 0:
                raise KeyError(after)
        chunk = ordered[start : start + limit]
        return chunk, start + limit < len(ordered)

    # idempotency keys ---------------------------------------------------------------------

    def _key_path(self, scope: str, key: str) -> Path:
        digest = hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()[:40]
        return self.keys_dir / f"{digest}.json"

    def idempotent(self, scope: str, key: str) -> tuple[str, str] | None:
        """``(fingerprint, video_id)`` recorded for this key, if any and the job still exists."""
        path = self._key_path(scope, key)
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("video_id") not in self._jobs:
            path.unlink(missing_ok=True)
            return None
        return str(data["fingerprint"]), str(data["video_id"])

    def remember(self, scope: str, key: str, fingerprint: str, video_id: str) -> None:
        payload = {"fingerprint": fingerprint, "video_id": video_id}
        atomic_write_text(self._key_path(scope, key), json.dumps(payload))

    # characters ---------------------------------------------------------------------------

    def add_character(self, character: dict[str, Any]) -> None:
        """Keep a character (``{"id", "created_at", "name", "video"}``) on disk."""
        self.characters_dir.mkdir(exist_ok=True)
        atomic_write_text(self.characters_dir / f"{character['id']}.json", json.dumps(character))

    def character(self, character_id: str) -> dict[str, Any] | None:
        """A character by id (read from disk: ids are checked to be one safe file name)."""
        if not _SAFE_ID.fullmatch(character_id):
            return None
        try:
            data = json.loads((self.characters_dir / f"{character_id}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    # renders and uploads ------------------------------------------------------------------

    def render_files(self, key: str) -> RenderFiles | None:
        """The finished render ``key``, if its files are all on disk."""
        folder = self.renders_dir / key
        try:
            names = json.loads((folder / "result.json").read_text("utf-8"))
            files = RenderFiles(*(folder / str(names[name]) for name in VARIANT_FIELDS))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return files if files.exist() else None

    def save_upload(self, data: bytes, extension: str) -> str:
        """Store an uploaded reference image or video under a name derived from its content
        (so identical uploads share one file and one render); return the file name."""
        name = f"{hashlib.sha256(data).hexdigest()[:32]}.{extension}"
        target = self.uploads_dir / name
        if not target.is_file():
            atomic_write_bytes(target, data)
        return name
