"""compare() and gallery(): the word diff directly, then grids of real jobs on the embedded
backend: the live grid's widgets, and the plain HTML both grids become."""

from __future__ import annotations

import html
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import ipywidgets as w
import pytest

import sora_nb as snb
from sora_nb._gallery import Gallery, gallery
from sora_nb._grid import CompareGrid, compare, diff_html, diff_words, grid_spans
from sora_nb._widget import JobCard
from sora_nb.local import MODERATION_MARKER, LocalServer


def marked(words: list[tuple[str, bool]]) -> list[str]:
    return [word for word, differs in words if differs]


def test_diff_words_marks_only_what_differs() -> None:
    a, b, c = diff_words([
        "A calico cat playing piano at night",
        "A calico dog playing piano at dawn",
        "A calico cat playing violin at night",
    ])
    assert marked(a) == ["cat", "piano", "night"]
    assert marked(b) == ["dog", "piano", "dawn"]
    assert marked(c) == ["cat", "violin", "night"]
    assert [word for word, _ in a] == [
        "A", "calico", "cat", "playing", "piano", "at", "night"
    ]


def test_diff_words_edge_cases() -> None:
    assert diff_words([]) == []
    assert diff_words(["just one prompt"]) == [[("just", False), ("one", False), ("prompt", False)]]
    # case and punctuation do not count as a difference; inserted words do
    x, y = diff_words(["A cat, at night.", "a cat at NIGHT with fireworks"])
    assert marked(x) == [] and marked(y) == ["with", "fireworks"]
    same = diff_words(["same words", "same words"])
    assert all(not d for row in same for _, d in row)
    assert diff_words(["", "new words"]) == [[], [("new", True), ("words", True)]]


def test_diff_html_escapes_and_marks() -> None:
    (_, row) = diff_words(["a <em>", "a <script>"])
    out = diff_html(row)
    assert "<script>" not in out and "&lt;script&gt;" in out and out.count("<mark") == 1


class Elements(HTMLParser):
    def __init__(self, markup: str) -> None:
        super().__init__()
        self.names: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)


def test_grid_spans_fill_rows_evenly() -> None:
    assert [grid_spans(n) for n in range(1, 7)] == [
        [6], [3, 3], [2, 2, 2], [3, 3, 3, 3], [2, 2, 2, 3, 3], [2, 2, 2, 2, 2, 2]
    ]
    for n in range(1, 7):  # every row adds up to the 6 tracks: no hole
        spans, row = grid_spans(n), 0
        for span in spans:
            row = (row + span) % 6
        assert row == 0, n


@pytest.mark.slow
def test_compare_runs_jobs_side_by_side(local: LocalServer, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = snb.SoraJob("A fox in snow <em>", seconds=4, cache=False)
    grid = compare(["A fox in rain <em>", given, "A fox in fog <em>"], seconds=4, cache=False)
    assert isinstance(grid, CompareGrid) and snb.compare is compare
    assert len(grid.jobs) == 3 and grid.jobs[1] is given
    assert all(j.seconds == 4 for j in grid.jobs)
    assert [marked(d) for d in grid.diffs] == [["rain"], ["snow"], ["fog"]]
    grid = CompareGrid(grid.jobs, widgets=True)  # as in a kernel
    box = grid.widget  # the live grid: one card per job, its prompt marked up
    assert isinstance(box, w.GridBox) and len(box.children) == 3
    assert [c.widget for c in grid.cards] == list(box.children)
    assert all(isinstance(c, JobCard) for c in grid.cards)
    assert grid.wait() is grid  # however long the renders take (pytest-timeout bounds it)
    for card in grid.cards:
        done = threading.Event()
        card.on_final(lambda _c, done=done: done.set())
        assert done.wait(60)
    assert grid.final and repr(grid) == "<CompareGrid 3 jobs: 3 completed>"
    page = grid._repr_html_()
    assert page.count('class="sora-nb-card"') == 3 and page.count("<mark") == 3
    # each prompt once (in its card), escaped; a player per job; short ids, full in tooltips
    for job in grid.jobs:
        assert page.count(html.escape(job.original_prompt).split()[-2]) >= 1
        assert f'title="{job.id}"' in page
    assert page.count("A fox in") == 3
    assert page.count("<video") == 3 and "em" not in Elements(page).names
    bundle = grid._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}  # final: no widget view


@pytest.mark.slow
def test_compare_wait_raises_the_first_failure_after_all_finish(local: LocalServer) -> None:
    grid = compare([f"A fox in snow {MODERATION_MARKER}", "A fox in snow <em>"],
                   seconds=4, cache=False)
    with pytest.raises(snb.SoraJobFailed):
        grid.wait()
    assert [j.status for j in grid.jobs] == ["failed", "completed"]


def test_compare_rejects_bad_input(local: LocalServer) -> None:
    for bad in ("one string", [], [42], None):
        with pytest.raises(snb.SoraParameterError, match="prompts_or_jobs="):
            compare(bad)  # type: ignore[arg-type]
    with pytest.raises(snb.SoraParameterError, match="seconds"):
        compare(["A cat"], seconds=-3)


@pytest.mark.slow
def test_gallery_is_plain_html_that_plays_and_survives(
    local: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    long_prompt = "A fox in rain <em> " + "walking through a very long and winding alley " * 4
    first = snb.SoraJob(long_prompt, seconds=4, cache=False).wait()
    first.download("thumbnail")
    first.download("video")
    second = snb.SoraJob("A fox in fog <em>", seconds=4, cache=False).wait()
    failed = snb.SoraJob(f"A fox {MODERATION_MARKER}", seconds=4, cache=False)
    with pytest.raises(snb.SoraJobFailed):
        failed.wait()
    g = gallery(limit=10, backend=False)  # this machine's journal only
    assert isinstance(g, Gallery) and snb.gallery is gallery
    assert {e.id for e in g.entries} == {first.id, second.id, failed.id}
    stamps = [e.created_at for e in g.entries]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert len(gallery(limit=1, backend=False)) == 1
    assert set(g.missing()) == {(second.id, "thumbnail"), (second.id, "video")}
    g.fetch().result(60)
    assert g.missing() == []
    page = g._repr_html_()
    assert "em" not in Elements(page).names and "script" not in Elements(page).names
    tiles = {t.split('"')[0]: t for t in page.split('data-status="')[1:]}
    assert set(tiles) == {"completed", "failed"}
    # completed tiles: a player (linked relative to the folder) with the thumbnail as poster
    assert page.count("<video controls") == 2 and page.count('poster="') == 2
    for src in re.findall(r'src="([^"]+)"', page):
        assert (tmp_path / src).is_file(), src
    assert all(p.startswith("data:image/jpeg;base64,")
               for p in re.findall(r'poster="([^"]+)"', page))
    # the failed tile shows its error code and has no player
    failed_tile = page[page.index('data-status="failed"'):]
    failed_tile = failed_tile[:failed_tile.index('class="sora-nb-tile"')
                              if 'class="sora-nb-tile"' in failed_tile else None]
    assert "moderation_blocked" in failed_tile and "<video" not in failed_tile
    # the prompt on one line with an ellipsis, the full text on hover
    assert "text-overflow:ellipsis" in page
    assert f'title="{html.escape(" ".join(long_prompt.split()), quote=True)}"' in page
    assert g._repr_mimebundle_(include={"text/plain"}) == {"text/plain": "<Gallery 3 jobs>"}
    assert set(g._repr_mimebundle_()) == {"text/plain", "text/html"}  # never a widget
    with pytest.raises(snb.SoraParameterError, match="limit=0"):
        gallery(limit=0)


@pytest.mark.slow
def test_gallery_also_lists_the_backends_own_jobs(fresh_server: LocalServer) -> None:
    import warnings

    import openai

    mine = snb.SoraJob("Journaled here", seconds=4, cache=False).wait()
    client = openai.OpenAI(base_url=fresh_server.base_url, api_key=fresh_server.api_key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        elsewhere = client.videos.create(prompt="Made by another client", seconds="4")
    entries = {e.id: e for e in gallery(limit=10).entries}
    assert set(entries) == {mine.id, elsewhere.id}
    assert entries[elsewhere.id].kind == "listed"
    assert entries[elsewhere.id].original_prompt == "Made by another client"
    fresh_server.stop()  # an unreachable backend leaves the journal's view
    assert [e.id for e in gallery(limit=10).entries] == [mine.id]
