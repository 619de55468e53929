"""The SQLite journal: pending entries before a create is sent, outcome-unknown entries,
indexed queries (so a create costs the same at 100,000 entries), several threads and
processes on one file, and a one-time import of the JSON-lines journal of earlier versions."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sora_nb import _journal
from sora_nb import _journal_write as _w
from sora_nb._journal import (
    FIND_CACHED_SQL,
    HISTORY_SQL,
    NOT_REUSABLE,
    PENDING_STALE_SECONDS,
    HistoryEntry,
    Journal,
)

ROOT = Path(__file__).resolve().parents[1]


def entry(video_id: str, **changes: object) -> HistoryEntry:
    values: dict[str, object] = dict(
        id=video_id, prompt="p " + video_id, original_prompt="p", model="sora-2", seconds=4,
        size="1280x720", backend="local:test", created_at=time.time(), status="queued",
    )
    values.update(changes)
    return HistoryEntry(**values)  # type: ignore[arg-type]


def pending(journal: Journal, key: str, cache_key: str | None = "ck") -> None:
    journal.write(_w.begin_pending, key, request={"prompt": "p", "seconds": "4"}, prompt="p",
                  original_prompt="p", model="sora-2", seconds=4, size="1280x720",
                  backend="local:test", cache_key=cache_key)


@pytest.fixture()
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / _journal.DB_NAME)


def test_a_pending_create_is_visible_before_its_answer_and_completed_after(
    journal: Journal,
) -> None:
    pending(journal, "key-1")
    (first,) = journal.history()
    assert (first.id, first.status, first.idempotency_key) == ("", "pending", "key-1")
    assert journal.find_cached("ck") is None  # a pending create is not reusable
    journal.write(_w.complete_pending, "key-1",
                  entry("video_a", status="in_progress", progress=5))
    (done,) = journal.history()
    assert (done.id, done.status, done.progress, done.cache_key) == (
        "video_a", "in_progress", 5, "ck")
    assert journal.find_cached("ck") == done
    row = sqlite3.connect(journal.path).execute("SELECT request FROM jobs").fetchone()
    assert json.loads(row[0]) == {"prompt": "p", "seconds": "4"}


def test_an_ambiguous_create_stays_as_unknown_and_a_refused_one_goes(journal: Journal) -> None:
    pending(journal, "lost")
    pending(journal, "refused")
    journal.write(_w.mark_unknown, "lost", "HTTP 502 after the request was sent")
    unknown = journal.by_idempotency_key("lost")
    journal.write(_w.drop_pending, "refused")
    assert unknown is not None and unknown.status == "unknown"
    assert [(e.idempotency_key, e.status, e.error_message) for e in journal.history()] == [
        ("lost", "unknown", "HTTP 502 after the request was sent")]


def test_a_pending_entry_of_a_dead_process_reads_as_unknown(journal: Journal) -> None:
    pending(journal, "old")
    with sqlite3.connect(journal.path) as conn:
        conn.execute("UPDATE jobs SET updated_at = ?", (time.time() - PENDING_STALE_SECONDS - 1,))
    assert [e.status for e in journal.history()] == ["unknown"]


def test_a_replayed_id_folds_into_the_entry_already_there(journal: Journal) -> None:
    journal.record(entry("video_same", kind="attached"))
    pending(journal, "replay")
    journal.write(_w.complete_pending, "replay", entry("video_same", status="completed"))
    assert [(e.id, e.status) for e in journal.history()] == [("video_same", "completed")]


def test_status_and_delete_and_history_order(journal: Journal) -> None:
    journal.record(entry("video_old", created_at=100.0))
    journal.record(entry("video_new", created_at=200.0))
    journal.record_status("video_old", "failed", 40, "internal_error", "boom")
    journal.record_deleted("video_new")
    assert [e.id for e in journal.history()] == ["video_old"]
    assert [e.id for e in journal.history(include_deleted=True)] == ["video_new", "video_old"]
    assert [e.id for e in journal.history(include_deleted=True, limit=1)] == ["video_new"]
    old = journal.by_id("video_old")
    assert old is not None and (old.status, old.error_code) == ("failed", "internal_error")
    assert journal.find_cached("ck") is None


def test_odd_values_in_the_database_are_read_leniently(journal: Journal) -> None:
    journal.record(entry("video_odd"))
    with sqlite3.connect(journal.path) as conn:
        conn.execute("UPDATE jobs SET seconds = '4.0', progress = 'x', error_code = 7")
    (odd,) = journal.history()
    assert (odd.seconds, odd.progress, odd.error_code) == (4, 0, "7")


def test_every_create_path_query_uses_an_index(journal: Journal) -> None:
    """What makes a create cost the same with 100,000 entries as with none: no query on
    the create path (or history's page) scans the table. Checked from SQLite's own plan,
    not timed."""
    pending(journal, "k")
    plans = {
        "find_cached": journal.query_plan(FIND_CACHED_SQL, ("ck", *NOT_REUSABLE)),
        "history page": journal.query_plan(
            HISTORY_SQL.format(where="WHERE deleted = 0") + " LIMIT 24"),
        "by id": journal.query_plan("SELECT seq FROM jobs WHERE id = ?", ("v",)),
        "complete": journal.query_plan(
            "UPDATE jobs SET status = 'queued' WHERE idempotency_key = ?", ("k",)),
        "status": journal.query_plan("UPDATE jobs SET status = 'x' WHERE id = ?", ("v",)),
    }
    for name, plan in plans.items():
        assert any("INDEX" in line for line in plan), (name, plan)
        assert not any(line.startswith("SCAN jobs") and "INDEX" not in line for line in plan)
        assert not any("TEMP B-TREE" in line for line in plan), (name, plan)


def test_the_file_is_private_and_in_wal_mode(journal: Journal) -> None:
    pending(journal, "k")
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    mode = sqlite3.connect(journal.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_threads_write_at_once_without_losing_a_row(journal: Journal) -> None:
    def work(n: int) -> None:
        for i in range(25):
            journal.record(entry(f"video_t{n}_{i}"))
            journal.record_status(f"video_t{n}_{i}", "completed", 100, None, None)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(journal.history()) == 100
    assert {e.status for e in journal.history()} == {"completed"}


@pytest.mark.slow
def test_two_processes_share_one_journal(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sora_nb._journal import Journal, HistoryEntry\n"
        "from sora_nb._journal_write import begin_pending, complete_pending\n"
        "j = Journal(Path(sys.argv[1]))\n"
        "for i in range(50):\n"
        "    k = f'{sys.argv[2]}-{i}'\n"
        "    j.write(begin_pending, k, request={}, prompt='p', original_prompt='p',\n"
        "            model='m', seconds=4, size='1x1', backend='b')\n"
        "    j.write(complete_pending, k, HistoryEntry(id='video_' + k, prompt='p',\n"
        "        original_prompt='p', model='m', seconds=4, size='1x1', backend='b',\n"
        "        created_at=time.time()))\n"
    )
    path = tmp_path / _journal.DB_NAME
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), name], cwd=ROOT)
             for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    ids = {e.id for e in Journal(path).history()}
    assert len(ids) == 100 and all(i.startswith("video_") for i in ids)


def test_the_json_lines_journal_is_imported_once_and_kept(tmp_path: Path) -> None:
    legacy = tmp_path / _journal.LEGACY_NAME
    created = {"event": "created", "at": 1.0, "id": "video_legacy", "prompt": "old one",
               "original_prompt": "old", "model": "sora-2", "seconds": 8, "size": "1280x720",
               "backend": "local:x", "created_at": 1.0, "status": "queued", "progress": 0,
               "error_code": None, "error_message": None, "remixed_from": None,
               "kind": "create", "cache_key": "abc"}
    gone = {**created, "id": "video_gone", "created_at": 2.0}
    lines = [created, {"event": "status", "id": "video_legacy", "status": "completed",
                       "progress": 100, "error_code": None, "error_message": None},
             gone, {"event": "deleted", "id": "video_gone"},
             {"event": "status", "id": "video_never_created", "status": "failed"}]
    text = "".join(json.dumps(r) + "\n" for r in lines) + '{"event": "created", "id": "vi'
    legacy.write_text(text)
    journal = _journal.journal_at(tmp_path)
    by_id = {e.id: e for e in journal.history(include_deleted=True)}
    assert set(by_id) == {"video_legacy", "video_gone"}
    assert by_id["video_legacy"].status == "completed" and by_id["video_gone"].deleted
    assert journal.find_cached("abc") == by_id["video_legacy"]
    assert legacy.read_text() == text  # kept as it was
    # a later line (an old version still writing) is not imported a second time round
    with legacy.open("a") as fh:
        fh.write("\n" + json.dumps({**created, "id": "video_late"}) + "\n")
    assert "video_late" not in {e.id for e in Journal(journal.path).history()}


def test_writes_waiting_together_share_one_commit(journal: Journal) -> None:
    # the writer thread is held inside a first write while 20 more are queued: they are
    # then committed together, in one transaction (one fsync), each acknowledged after it
    inside, release = threading.Event(), threading.Event()

    def held(conn: sqlite3.Connection) -> None:
        inside.set()
        release.wait(30)
        _w.upsert(conn, entry("video_first"))

    first = journal.submit(held)
    assert inside.wait(30)
    commits = journal._commits.commits
    rest = [journal.submit(_w.upsert, entry(f"video_g{i}")) for i in range(20)]
    assert not any(f.done() for f in rest)  # nothing acknowledged before its commit
    release.set()
    first.result(30)
    for f in rest:
        f.result(30)
    assert journal._commits.commits == commits + 2
    assert len(journal.history()) == 21


def test_a_failing_write_fails_alone_in_a_shared_commit(journal: Journal) -> None:
    inside, release = threading.Event(), threading.Event()

    def held(conn: sqlite3.Connection) -> None:
        inside.set()
        release.wait(30)

    def broken(conn: sqlite3.Connection) -> None:
        _w.upsert(conn, entry("video_broken"))
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    first = journal.submit(held)
    assert inside.wait(30)
    before = journal.submit(_w.upsert, entry("video_before"))
    bad = journal.submit(broken)
    after = journal.submit(_w.upsert, entry("video_after"))
    release.set()
    first.result(30)
    with pytest.raises(sqlite3.OperationalError):
        bad.result(30)
    before.result(30)
    after.result(30)
    # the broken write's own row was rolled back with it; its neighbours were committed
    assert {e.id for e in journal.history()} == {"video_before", "video_after"}


@pytest.mark.slow
def test_acknowledged_group_commits_survive_kill_9(tmp_path: Path) -> None:
    # A child journals 64 pending creates at once (as 64 concurrent creates do), says so
    # once every one is acknowledged, and is killed with SIGKILL: all 64 are on disk.
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sora_nb._journal import Journal\n"
        "from sora_nb._journal_write import begin_pending\n"
        "j = Journal(Path(sys.argv[1]))\n"
        "fs = [j.submit(begin_pending, f'key-{i}', request={}, prompt='p',\n"
        "               original_prompt='p', model='m', seconds=4, size='1x1', backend='b')\n"
        "      for i in range(64)]\n"
        "for f in fs:\n"
        "    f.result()\n"
        "print('acknowledged', j._commits.commits, flush=True)\n"
        "time.sleep(120)\n"
    )
    path = tmp_path / _journal.DB_NAME
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert line.startswith("acknowledged"), line
    assert int(line.split()[1]) < 64  # grouped: fewer commits than writes
    keys = {e.idempotency_key for e in Journal(path).history()}
    assert keys == {f"key-{i}" for i in range(64)}
