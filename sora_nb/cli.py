"""The ``sora-nb`` command: ``serve`` runs the embedded backend, ``generate`` makes one
video with a terminal progress bar, ``list`` shows the journal, ``status ID`` asks the backend."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, TextIO

from . import _config
from ._config import resolve_backend
from ._display import clock, short_id, status_word
from ._errors import SoraError, SoraParameterError
from ._job import SoraJob
from ._params import DEFAULT_MODEL, DEFAULT_SIZE, MODELS
from ._store import history, media_path
from ._types import SIZES

__all__ = ["main"]

DESCRIPTION = """\
Sora video generation from the command line. Without OPENAI_API_KEY, jobs run on
sora_nb's embedded local backend (synthetic videos rendered on this machine)."""
EPILOG = """\
examples:
  sora-nb generate "A lighthouse at dawn" --seconds 4 --out lighthouse.mp4
  sora-nb list
  sora-nb status video_68d7512d       (any unique start of an id from `list`)
  sora-nb serve --port 8000"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS)
                and "%(default)" not in text and action.option_strings):
            text += " (default: %(default)s)"
        return text


def _one_line_warnings(stream: TextIO) -> Any:
    """A ``warnings.showwarning`` that prints ``sora-nb: warning: <message>``: no script
    path, no source line (those are for programmers, not for a command's user)."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        text = " ".join(str(message).split())
        print(f"sora-nb: warning: {text}", file=file or stream)

    return show


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sora-nb", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_Help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="generate one video and save it",
                         description="Generate one video with a progress bar; print the "
                         "path of the MP4.", formatter_class=_Help)
    gen.add_argument("prompt", help="what the video shows (quote it)")
    gen.add_argument("--model", default=None, metavar="MODEL",
                     help=f"sora profile: {' or '.join(MODELS)} (default: {DEFAULT_MODEL}), or a "
                     "dated snapshot; generic profile: any name (default: the server's own)")
    gen.add_argument("--seconds", default=None, metavar="N",
                     help="sora profile: {4,8,12} (default: 8), other numbers rounded to "
                     "the nearest with a warning; generic: whole seconds as given")
    gen.add_argument("--size", default=None, metavar="WxH",
                     help=f"sora profile: {', '.join(SIZES[:2])} (default: {DEFAULT_SIZE}); "
                     f"{' and '.join(SIZES[2:])} with sora-2-pro; generic: any WxH")
    gen.add_argument("--profile", choices=["sora", "generic"], default=None,
                     help="the server's rules (default: follow the backend, SORA_NB_PROFILE)")
    gen.add_argument("--extra", default=None, metavar="JSON",
                     help='server-specific fields, e.g. \'{"seed": 7}\'')
    gen.add_argument("--no-enhance", action="store_true",
                     help="send the prompt as written (no added visual descriptors)")
    gen.add_argument("--out", type=Path, default=None, metavar="PATH",
                     help="file or folder for the MP4 (default: sora_nb's cache)")

    sub.add_parser("list", help="jobs made on this machine, newest first",
                   description="The journal of jobs made on this machine, newest first.",
                   formatter_class=_Help)
    status = sub.add_parser("status", help="ask the backend about one job",
                            description="Ask the backend for one job's status.",
                            formatter_class=_Help)
    status.add_argument("video_id", metavar="ID",
                        help="a job id, or any unique start of one (as `list` shows)")

    serve = sub.add_parser("serve", help="run the embedded Sora-compatible backend",
                           description="Run the embedded Sora-compatible backend on "
                           "127.0.0.1 until Ctrl-C.", formatter_class=_Help)
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    serve.add_argument("--job-seconds", type=float, default=3.0, metavar="S",
                       help="simulated render time of each job (0: as fast as possible)")
    serve.add_argument("--latency", type=float, default=0.0, metavar="S",
                       help="seconds added to every request")
    serve.add_argument("--failure-rate", type=float, default=0.0, metavar="P",
                       help="share of jobs that fail (0 to 1)")
    serve.add_argument("--rate-limit-rate", type=float, default=0.0, metavar="P",
                       help="share of requests answered 429 with retry-after (0 to 1)")
    serve.add_argument("--server-error-rate", type=float, default=0.0, metavar="P",
                       help="share of requests answered 5xx (0 to 1)")
    serve.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                       help="keep jobs here across restarts (default: a temporary folder)")
    serve.add_argument("--dialect", default="sora",
                       choices=["sora", "vllm-omni", "sglang", "gateway"],
                       help="answer as this server (default: OpenAI's Sora API)")
    serve.add_argument("--expire-after", type=float, default=None, metavar="SECONDS",
                       help="assets expire this long after a job completes")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``sora-nb`` command with ``argv`` (default: the process's); return the exit code."""
    args = _parser().parse_args(argv)
    warnings.showwarning = _one_line_warnings(sys.stderr)
    if args.command == "serve":
        return _serve(args)
    if args.command == "generate":
        return _generate(args)
    if args.command == "list":
        return _list()
    return _status(args.video_id)


def _serve(args: argparse.Namespace) -> int:
    # deferred: aiohttp and the render workers, for `serve` only
    from . import local
    from .local._shared import write_private

    key = os.environ.get("SORA_NB_LOCAL_API_KEY") or f"sora-local-{secrets.token_urlsafe(18)}"
    key_file = _config.cache_dir() / "serve.key"
    write_private(key_file, key + "\n")  # 0600 from creation, no readable window
    faults = local.FaultConfig(
        failure_rate=args.failure_rate, rate_limit_rate=args.rate_limit_rate,
        server_error_rate=args.server_error_rate, latency=args.latency,
    )
    server = local.start(port=args.port, api_key=key, job_seconds=args.job_seconds,
                         faults=faults, data_dir=args.data_dir, dialect=args.dialect,
                         expire_after=args.expire_after)
    shown = "" if args.dialect == "sora" else f" ({args.dialect} dialect)"
    print(f"sora_nb local backend{shown} listening at {server.base_url}", flush=True)
    print(f"API key written to {key_file} (or set SORA_NB_LOCAL_API_KEY before starting)")
    print(f"use it:  export OPENAI_BASE_URL={server.base_url} "
          f"OPENAI_API_KEY=$(cat {key_file})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _generate(args: argparse.Namespace) -> int:
    try:
        extra = _extra(args.extra)
        job = SoraJob(args.prompt, model=args.model, seconds=args.seconds, size=args.size,
                      enhance=not args.no_enhance, profile=args.profile, extra=extra)
        # the full id once (to copy); the progress line then uses the short one
        head = f"{job.id}  {job.model} {job.seconds}s {job.size} {job.backend.label}"
        print(head if len(head) <= 80 else job.id, file=sys.stderr)
        job.wait(progress=True)
        if sys.stderr.isatty():
            print("fetching the video…", file=sys.stderr)
        path = job.download("video", args.out) if args.out else job.download("video")
    except SoraError as exc:
        print(f"sora-nb: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def _extra(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SoraParameterError("--extra", text, "a JSON object, e.g. '{\"seed\": 7}'",
                                 detail=str(exc)) from None
    if not isinstance(value, dict):
        raise SoraParameterError("--extra", text, "a JSON object, e.g. '{\"seed\": 7}'")
    return value


def _list() -> int:
    entries = history()
    if not entries:
        print("no jobs yet: try  sora-nb generate \"A lighthouse at dawn\" --seconds 4")
        return 0
    print(f"{'ID':<14}  {'STATUS':<11}  {'CREATED':<12}  {'MODEL':<10}  LEN  PROMPT")
    for entry in entries:
        # a create whose answer never came has no id: show its idempotency key instead
        shown = short_id(entry.id) if entry.id else f"key {entry.idempotency_key}"[:14]
        prompt = " ".join(entry.original_prompt.split())
        prompt = prompt if len(prompt) <= 19 else prompt[:18] + "…"
        print(f"{shown:<14}  {status_word(entry.status):<11}  "
              f"{clock(entry.created_at):<12}  {entry.model:<10}  {entry.seconds:>2}s  {prompt}")
    return 0


def _resolve_id(text: str) -> str | None:
    """``text`` itself, or the one journaled id that starts with it; None (after saying
    why) when it starts several."""
    matches = [e.id for e in history(include_deleted=True) if e.id.startswith(text)]
    if len(matches) > 1 and text not in matches:
        shown = "  ".join(short_id(m) for m in matches[:4]) + ("  …" if len(matches) > 4 else "")
        print(f"sora-nb: {len(matches)} job ids start with {text!r}; give more of it:\n"
              f"  {shown}", file=sys.stderr)
        return None
    return matches[0] if matches else text


def _status(video_id: str) -> int:
    resolved = _resolve_id(video_id)
    if resolved is None:
        return 1
    try:
        job = SoraJob.attach(resolved)
    except SoraError as exc:
        print(f"sora-nb: {exc}", file=sys.stderr)
        return 1
    snap = job.snapshot()
    line = f"{snap.id} {status_word(snap.status)} {snap.progress}%"
    if snap.error is not None:
        line += f" ({snap.error.code}: {snap.error.message})"
    print(line)
    if snap.status == "completed":
        cached = media_path(snap.id, "video")
        # The embedded backend lives as long as this command: its URL would be dead by
        # the time anyone reads it. A real backend's URL stays (it needs the API key).
        if resolve_backend().identity.startswith("local:embedded:"):
            print(f"file: {cached}" if cached.is_file() else
                  "no lasting URL (embedded backend): `sora-nb generate` saves the MP4")
        else:
            print(f"url: {job.url}  (GET it with your API key as Bearer token)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
