"""compare() and gallery(): the word diff directly, then grids of real jobs on the embedded
backend, as widgets and as the HTML fallback."""

from __future__ import annotations

import threading
from html.parser import HTMLParser
from typing import Any

import ipywidgets as w
import pytest

import sora_nb as snb
from sora_nb._grid import CompareGrid, Gallery, compare, diff_html, diff_words, gallery
from sora_nb._widget import JobCard, card_for
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


@pytest.mark.slow
def test_compare_runs_jobs_side_by_side(local: LocalServer) -> None:
    given = snb.SoraJob("A fox in snow <em>", seconds=4, cache=False)
    grid = compare(["A fox in rain <em>", given, "A fox in fog <em>"], seconds=4, cache=False)
    assert isinstance(grid, CompareGrid) and snb.compare is compare
    assert len(grid.jobs) == 3 and grid.jobs[1] is given
    assert all(j.seconds == 4 for j in grid.jobs)
    assert [marked(d) for d in grid.diffs] == [["rain"], ["snow"], ["fog"]]
    assert grid.wait(timeout=120) is grid
    assert all(j.status == "completed" for j in grid.jobs)
    assert repr(grid) == "<CompareGrid 3 jobs: 3 completed>"
    page = grid._repr_html_()
    assert page.count('class="sora-nb-card"') == 3 and page.count("<mark") == 3
    assert "em" not in Elements(page).names  # prompts escaped
    bundle = grid._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}  # no kernel here: no widget view
    box = grid.widget
    assert isinstance(box, w.GridBox) and len(box.children) == 3
    # each cell is the job's one live card (shared with job._repr_mimebundle_)
    assert [cell.children[1] for cell in box.children] == [
        card_for(j).widget for j in grid.jobs
    ]
    assert all(isinstance(card_for(j), JobCard) for j in grid.jobs)
    assert {card_for(j).progress.bar_style for j in grid.jobs} == {"success"}


@pytest.mark.slow
def test_compare_wait_raises_the_first_failure_after_all_finish(local: LocalServer) -> None:
    grid = compare([f"A fox in snow {MODERATION_MARKER}", "A fox in snow <em>"],
                   seconds=4, cache=False)
    with pytest.raises(snb.SoraJobFailed):
        grid.wait(timeout=120)
    assert [j.status for j in grid.jobs] == ["failed", "completed"]


def test_compare_rejects_bad_input(local: LocalServer) -> None:
    for bad in ("one string", [], [42], None):
        with pytest.raises(snb.SoraParameterError, match="prompts_or_jobs="):
            compare(bad)  # type: ignore[arg-type]
    with pytest.raises(snb.SoraParameterError, match="seconds"):
        compare(["A cat"], seconds=-3)


@pytest.mark.slow
def test_gallery_shows_history_and_plays_on_click(local: LocalServer) -> None:
    first = snb.SoraJob("A fox in rain <em>", seconds=4, cache=False).wait()
    first.download("thumbnail")  # cached: the tile shows it without a request
    second = snb.SoraJob("A fox in fog <em>", seconds=4, cache=False).wait()
    g = gallery(limit=10, backend=False)  # this machine's journal only
    assert isinstance(g, Gallery) and snb.gallery is gallery
    assert {e.id for e in g.entries} == {first.id, second.id}
    stamps = [e.created_at for e in g.entries]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert len(gallery(limit=1, backend=False)) == 1
    page = g._repr_html_()
    assert "A fox in rain &lt;em&gt;" in page and "em" not in Elements(page).names
    assert page.count("data:image/webp;base64,") == 1  # only the cached thumbnail
    bundle = g._repr_mimebundle_(include={"text/plain"})
    assert bundle == {"text/plain": "<Gallery 2 jobs>"}

    box = g.widget
    assert isinstance(box, w.GridBox) and len(box.children) == 2
    tiles = {e.id: tile for e, tile in zip(g.entries, box.children, strict=True)}
    for job in (first, second):  # the uncached one is fetched in the background
        image = wait_for_child(tiles[job.id].children[0], w.Image)
        assert image.value == job.download("thumbnail").read_bytes()
    play = tiles[second.id].children[2]
    assert isinstance(play, w.Button) and not play.disabled
    play.click()
    video = wait_for_child(tiles[second.id].children[0], w.Video)
    assert video.value == second.download().read_bytes()
    with pytest.raises(snb.SoraParameterError, match="video_id='nope'"):
        g.play("nope")
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


def wait_for_child(box: w.Box, kind: type[w.Widget]) -> Any:
    """Block until ``box`` shows a ``kind`` widget (observed through traitlets, no sleep)."""
    arrived = threading.Event()

    def check(_change: Any = None) -> None:
        if any(isinstance(c, kind) for c in box.children):
            arrived.set()

    box.observe(check, names="children")
    check()
    assert arrived.wait(60), f"no {kind.__name__} in {box.children}"
    box.unobserve(check, names="children")
    return next(c for c in box.children if isinstance(c, kind))
