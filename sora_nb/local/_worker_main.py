"""Entry point of a render worker process (``python -m sora_nb.local._worker_main N``):
serves render tasks from the server over stdin/stdout at niceness N."""

from __future__ import annotations

import sys

from ._server_workers import serve

__all__: list[str] = []  # an entry point: nothing here is for import

if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
