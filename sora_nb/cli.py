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
from pathlib import Path

from . import _config
from ._api import get_sora_video_status
from ._errors import SoraError, SoraParameterError
from ._job import SoraJob
from ._params import DEFAULT_MODEL
from ._store import history

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``sora-nb`` command with ``argv`` (default: the process's); return the exit code."""
    parser = argparse.ArgumentParser(prog="sora-nb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the embedded Sora-compatible backend")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    serve.add_argument("--job-seconds", type=float, default=3.0,
                       help="simulated render time of each job (0: as fast as possible)")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    serve.add_argument("--failure-rate", type=float, default=0.0)
    serve.add_argument("--rate-limit-rate", type=float, default=0.0)
    serve.add_argument("--server-error-rate", type=float, default=0.0)
    serve.add_argument("--data-dir", type=Path, default=None,
                       help="keep jobs here across restarts (default: a temporary folder)")
    serve.add_argument("--dialect", default="sora",
                       choices=["sora", "vllm-omni", "sglang", "gateway"],
                       help="answer as this server (default: OpenAI's Sora API)")
    serve.add_argument("--expire-after", type=float, default=None, metavar="SECONDS",
                       help="assets expire this long after a job completes")

    gen = sub.add_parser("generate", help="generate one video and save it")
    gen.add_argument("prompt")
    gen.add_argument("--model", default=None,
                     help=f"default: {DEFAULT_MODEL} (sora profile), the server's own (generic)")
    gen.add_argument("--seconds", default=None,
                     help="default: 8 (sora profile), the server's own (generic)")
    gen.add_argument("--size", default=None)
    gen.add_argument("--profile", choices=["sora", "generic"], default=None,
                     help="the server's rules (default: follow the backend, SORA_NB_PROFILE)")
    gen.add_argument("--extra", default=None, metavar="JSON",
                     help='server-specific fields, e.g. \'{"seed": 7}\'')
    gen.add_argument("--no-enhance", action="store_true", help="send the prompt as written")
    gen.add_argument("--out", type=Path, default=None, help="file or folder for the MP4")

    sub.add_parser("list", help="jobs journaled on this machine, newest first")
    status = sub.add_parser("status", help="ask the backend about one job")
    status.add_argument("video_id")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "generate":
        return _generate(args)
    if args.command == "list":
        return _list()
    return _status(args.video_id)


def _serve(args: argparse.Namespace) -> int:
    from . import local  # deferred: aiohttp and the render workers, for `serve` only

    key = os.environ.get("SORA_NB_LOCAL_API_KEY") or f"sora-local-{secrets.token_urlsafe(18)}"
    key_file = _config.cache_dir() / "serve.key"
    key_file.write_text(key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
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
        print(f"{job.id}: {job.model} {job.size} {job.seconds}s on {job.backend.label}",
              file=sys.stderr)
        job.wait(progress=True)
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
    for entry in history():
        prompt = entry.original_prompt.replace("\n", " ")
        prompt = prompt if len(prompt) <= 50 else prompt[:49] + "…"
        # a create whose answer never came has no id: show its idempotency key instead
        shown = entry.id or f"(no id; key {entry.idempotency_key})"
        print(f"{shown}  {entry.status:<11} {entry.model:<10} {entry.seconds:>2}s "
              f"{entry.size:<9}  {prompt}")
    return 0


def _status(video_id: str) -> int:
    try:
        status = get_sora_video_status(video_id)
    except SoraError as exc:
        print(f"sora-nb: {exc}", file=sys.stderr)
        return 1
    print(f"{status['id']} {status['status']} {status['progress']}%"
          + (f" {status['url']}" if status["url"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
