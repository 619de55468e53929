"""Journal scale: the journal's share of creating a job (find_cached, the pending entry, its
completion with the id) with an empty journal and with 100,000 entries, in the same run.
The JSON-lines journal it replaced took 6 ms empty and 1,058 ms at 50,000 (issue 12)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from sora_nb._journal import HistoryEntry, Journal

ENTRIES = 100_000
ROUNDS = 200


def fill(journal: Journal, count: int) -> None:
    """``count`` completed jobs, written in one transaction (the fast way in)."""
    now = time.time()
    with journal._write() as conn:
        conn.executemany(
            "INSERT INTO jobs (id, prompt, original_prompt, model, seconds, size, backend, "
            "created_at, status, progress, kind, cache_key, updated_at) "
            "VALUES (?, ?, ?, 'sora-2', 8, '1280x720', 'local:bench', ?, 'completed', 100, "
            "'create', ?, ?)",
            ((f"video_fill{i:06d}", f"prompt {i}", f"prompt {i}", now - i, f"{i:064x}", now)
             for i in range(count)),
        )


def create_path(journal: Journal, n: int) -> float:
    """Seconds the journal adds to one create: what ``SoraJob()`` does around the request."""
    key = f"bench-{n}-{time.perf_counter_ns()}"
    started = time.perf_counter()
    journal.find_cached(f"missing-{key}")
    journal.begin_pending(key, request={"prompt": "p"}, prompt="p", original_prompt="p",
                          model="sora-2", seconds=8, size="1280x720", backend="local:bench",
                          cache_key=f"ck-{key}")
    journal.complete_pending(key, HistoryEntry(
        id=f"video_{key}", prompt="p", original_prompt="p", model="sora-2", seconds=8,
        size="1280x720", backend="local:bench", created_at=time.time()))
    return time.perf_counter() - started


def median_cost(journal: Journal) -> float:
    create_path(journal, -1)  # opens the connection and warms the page cache
    return statistics.median(create_path(journal, n) for n in range(ROUNDS))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as folder:
        empty = Journal(Path(folder) / "empty" / "journal.sqlite3")
        full = Journal(Path(folder) / "full" / "journal.sqlite3")
        empty.history(limit=1)
        fill(full, ENTRIES)
        cost_empty = median_cost(empty)
        cost_full = median_cost(full)
        page = time.perf_counter()
        full.history(limit=24)
        page = time.perf_counter() - page
    print(f"create path, empty journal       {cost_empty * 1e3:8.2f} ms")
    print(f"create path, {ENTRIES:,} entries  {cost_full * 1e3:8.2f} ms")
    print(f"ratio full/empty                 {cost_full / cost_empty:8.2f}")
    print(f"history(limit=24) at {ENTRIES:,}   {page * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
