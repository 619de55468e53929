"""The live card (ipywidgets) through real jobs on the embedded backend: trait values and
bar styles over a whole lifecycle, throttling, media once complete, the weak reference to
the job, the mimebundle, show() for every variant, and the spritesheet scrubber.

Counting what the widgets send: outside a kernel ipywidgets talks through
``comm.create_comm``, which the ``comm`` package documents as the hook a kernel replaces
(ipykernel does exactly that). The ``sent`` fixture plugs in a comm that records what it
would publish; nothing of sora_nb or ipywidgets is patched. The kernel-level count over a
real iopub channel is in test_kernel_live.py."""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import io
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import comm
import ipywidgets as w
import pytest
from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

import sora_nb as snb
from sora_nb._display import INDETERMINATE_CLASS, STATUS_COLORS, STOPPED_COLOR, status_word
from sora_nb._grid import CompareGrid
from sora_nb._many import Slot
from sora_nb._outputs import WIDGET_VIEW
from sora_nb._scrubber import SpriteScrubber, sprite_grid, sprite_html
from sora_nb._show import job_mimebundle, show_job
from sora_nb._types import JobError, JobSnapshot
from sora_nb._widget import BAR_STYLES, JobCard
from sora_nb.local import MODERATION_MARKER, LocalServer

Sent = tuple[str, str, dict[str, Any], float]  # comm id, msg type, data, monotonic time


class RecordingComm(BaseComm):
    """A comm that keeps what it would publish on iopub (``log`` is shared by all)."""

    log: ClassVar[list[Sent]] = []

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:
        self.log.append((self.comm_id, msg_type, data or {}, time.monotonic()))


@pytest.fixture()
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    log: list[Sent] = []
    monkeypatch.setattr(RecordingComm, "log", log)
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    return log


def updates(log: list[Sent], widget: w.Widget) -> list[tuple[dict[str, Any], float]]:
    """The state and send time of every update message sent for ``widget``."""
    return [(d["state"], at) for cid, kind, d, at in log
            if cid == widget.model_id and kind == "comm_msg" and d.get("method") == "update"]


# One prompt for every real job here: the embedded backend renders an identical request
# once and serves the render again, which keeps these tests fast.
PROMPT = "A paper lantern drifting over a lake"


def snap(**changes: Any) -> JobSnapshot:
    base = JobSnapshot(
        id="video_abc", status="queued", progress=0, prompt="A cat", original_prompt="A cat",
        model="sora-2", size="1280x720", seconds=4, backend="local", from_cache=False,
        created_at=0.0, elapsed=0.0,
    )
    return replace(base, **changes)


@pytest.fixture()
def notebook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory a kernel would have: the notebook's folder (media is linked
    under ./sora_nb_media/ there; the cache dir is elsewhere)."""
    folder = tmp_path / "notebook"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture()
def done_job(local: LocalServer) -> snb.SoraJob:
    """A finished job to feed cards with snapshots of any state (its own are ignored)."""
    return snb.SoraJob(PROMPT, seconds=4).wait()


def fed_card(job: snb.SoraJob, **kwargs: Any) -> JobCard:
    """A widget card that only shows the snapshots a test pushes (no media fetching)."""
    kwargs.setdefault("min_interval", 0)
    card = JobCard(job, widgets=True, fetch_media=False, **kwargs)
    card._last_flush = float("-inf")  # the job's own snapshot does not throttle the test's
    card.last, card.final = None, False  # forget the job's own (final) snapshot
    return card


class Delivered:
    """Signals each snapshot a card shows (wraps ``_render_locked``)."""

    def __init__(self, card: JobCard) -> None:
        self.event = threading.Event()
        inner = card._render_locked

        def render(previous: JobSnapshot | None = None) -> None:
            inner(previous)
            self.event.set()

        card._render_locked = render  # type: ignore[method-assign]


# -- the card, fed snapshot by snapshot ----------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "in_progress"])
def test_a_running_card_is_one_html_a_bar_and_cancel(done_job: snb.SoraJob, status: str) -> None:
    card = fed_card(done_job)
    card.push(snap(status=status, progress=55, eta=9.0))
    assert card.widget.children == (card.head, card.progress, card.cancel_button)
    assert card.progress.value == 55
    assert card.progress.description == ("0s elapsed" if status == "queued" else
                                         "55% · 0s elapsed · about 9s left")
    assert f"sora-nb-live-{status}" in card.widget._dom_classes  # the frame's colour
    assert card.progress.style.bar_color == STATUS_COLORS[status]  # grey, then blue
    assert card.progress.bar_style == BAR_STYLES.get(status, "")
    assert status_word(status) in card.head.value


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "expired"])
def test_a_final_card_is_html_only(done_job: snb.SoraJob, status: str) -> None:
    card = fed_card(done_job)
    error = JobError("moderation_blocked", "<b>no</b>") if status == "failed" else None
    card.push(snap(status=status, progress=30, error=error))
    assert card.final and card.widget.children == (card.head,)  # no dead Cancel, no bar
    html = card.head.value
    assert STATUS_COLORS[status] in html and "width:100%" in html
    if error is not None:
        assert "moderation_blocked" in html and "&lt;b&gt;no&lt;/b&gt;" in html
        assert html.index("sora-nb-error") < html.index("sora-nb-prompt")
    bundle = card.bundle()
    assert WIDGET_VIEW not in bundle and f'data-status="{status}"' in bundle["text/html"]


def test_unknown_progress_is_a_full_striped_bar_without_eta(done_job: snb.SoraJob) -> None:
    card = fed_card(done_job)
    card.push(snap(status="in_progress", progress=None, eta=4.0, elapsed=3.0))
    assert card.progress.value == 100 and INDETERMINATE_CLASS in card.progress._dom_classes
    assert card.progress.description == "3s elapsed"  # no percent, no ETA
    card.push(snap(status="in_progress", progress=40))
    assert INDETERMINATE_CLASS not in card.progress._dom_classes


def test_stopped_polling_and_fetching_drop_the_cancel_button(done_job: snb.SoraJob) -> None:
    card = fed_card(done_job)
    card.push(snap(status="in_progress", progress=20, poll_state="cancelled", note="stopped"))
    assert card.progress.bar_style == "warning" and card.progress.style.bar_color == STOPPED_COLOR
    assert card.cancel_button not in card.widget.children
    assert "stopped" in card.head.value and "polling cancelled" in card.head.value
    assert WIDGET_VIEW not in card.bundle()  # settled: static until job.resume()
    card.push(snap(status="in_progress", progress=25))
    assert card.cancel_button in card.widget.children and WIDGET_VIEW in card.bundle()


def test_throttle_batches_and_always_delivers_the_final_state(
    done_job: snb.SoraJob, sent: list[Sent],
) -> None:
    card = fed_card(done_job, min_interval=3600)  # only the first and the final state pass
    first = card.flushes
    for p in range(0, 100, 2):
        card.push(snap(status="in_progress", progress=p, elapsed=p / 10))
    assert card.flushes == first + 1 and card.progress.value == 0
    card.push(snap(status="failed", progress=98, elapsed=10.0,
                   error=JobError("x", "y")))
    assert card.flushes == first + 2 and card.final
    # one batched update per flush (hold_sync), never one per snapshot or per trait
    assert len(updates(sent, card.progress)) <= 2
    assert "x" in card.head.value and card.widget.children == (card.head,)


def test_trailing_flush_delivers_the_latest_pending_state(done_job: snb.SoraJob) -> None:
    card = fed_card(done_job, min_interval=0.05)
    card.push(snap(status="in_progress", progress=10))
    delivered = Delivered(card)
    card.push(snap(status="in_progress", progress=20))
    card.push(snap(status="in_progress", progress=30))  # supersedes 20 before it is sent
    assert delivered.event.wait(10)
    assert card.progress.value == 30


def test_a_card_opens_fewer_than_ten_comms(done_job: snb.SoraJob, sent: list[Sent]) -> None:
    card = fed_card(done_job)
    card.push(snap(status="in_progress", progress=40))
    opened = {cid for cid, kind, _, _ in sent if kind == "comm_open"}
    assert len(opened) < 10, len(opened)
    assert card.widget.model_id in opened


def test_a_grid_shares_what_its_cards_never_change(done_job: snb.SoraJob,
                                                    sent: list[Sent]) -> None:
    # three cards of a real job, and three cells still waiting for their create (futures
    # this test settles, as the create queue would)
    slots = [Slot(f"A lantern, take {n}", {}) for n in range(3)]
    for slot in slots:
        slot.future = concurrent.futures.Future()
    grid = CompareGrid([done_job, done_job, done_job, *slots], widgets=True)
    box = grid.widget
    # grid_area (grid_column never reaches the page in JupyterLab 4: cells one track wide)
    assert [c.layout.grid_area for c in box.children] == ["auto / span 2"] * 6
    heads = [card.head for card in grid.cards]
    buttons = [card.cancel_button for card in grid.cards]
    assert len({h.style.model_id for h in heads}) == 1
    assert len({(b.style.model_id, b.layout.model_id) for b in buttons}) == 1
    assert len({c.progress.style.model_id for c in grid.cards}) == 3  # bar colours differ
    waiting = box.children[3]
    slots[0].future.set_result(done_job)  # created: the placeholder becomes a card
    assert box.children[3] is grid.cards[3].widget and waiting.comm is None
    opened = {cid for cid, kind, _, _ in sent if kind == "comm_open"}
    # 9 comms for a lone card; here 6 per card, 1 per waiting cell, and a few shared ones
    assert len(opened) <= 6 * len(grid.slots), len(opened)


# -- real jobs on the embedded backend ----------------------------------------------------


@pytest.fixture()
def shell() -> Iterator[InteractiveShell]:
    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def final_of(card: JobCard) -> None:
    """Block until the card is final (observed, not slept): first until its job settles,
    for as long as the server's render takes (a first render on a loaded machine took
    over a minute; pytest's own timeout bounds it), then for the card's media fetch."""
    job = card.job
    if job is not None:
        with contextlib.suppress(snb.SoraJobFailed):
            job.wait(progress=False)
    event = threading.Event()
    card.on_final(lambda _card: event.set())
    assert event.wait(60), card.last


@pytest.mark.slow
def test_lifecycle_fetching_then_static_with_player_and_poster(
    local: LocalServer, shell: InteractiveShell, notebook_dir: Path
) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    card = JobCard(job, widgets=True)
    styles: list[str] = []
    card.progress.observe(lambda c: styles.append(c["new"]), names="bar_style")
    labels: list[str] = []
    card.progress.observe(lambda c: labels.append(c["new"]), names="description")
    with capture_output() as cap:
        display_id = card.display()
        final_of(card)
    first, *updates_ = cap.outputs
    assert WIDGET_VIEW in first.data and first.transient["display_id"] == display_id
    last = updates_[-1]
    assert last.update and last.transient["display_id"] == display_id
    html = last.data["text/html"]
    assert WIDGET_VIEW not in last.data and last.data["text/plain"] == repr(job)
    (video,) = re.findall(r"<video [^>]*>", html)
    src = re.search(r'src="([^"]+)"', video)
    poster = re.search(r'poster="([^"]+)"', video)
    assert src and poster and (notebook_dir / src[1]).is_file()
    assert src[1].startswith("sora_nb_media/") and poster[1].startswith("data:image/jpeg;")
    assert "download" in html and job.id in html
    # the card said what it fetched between "completed" and the player
    assert "done on the server · fetching the video…" in labels
    assert any(re.fullmatch(r"\d+% · \d+s elapsed.*", label) for label in labels), labels
    assert set(styles) <= {"", "info", "success"}


@pytest.mark.slow
def test_failed_job_turns_the_card_red_at_once(local: LocalServer) -> None:
    job = snb.SoraJob(f"A scene {MODERATION_MARKER}", seconds=4, cache=False)
    card = JobCard(job, widgets=True)
    with pytest.raises(snb.SoraJobFailed):
        job.wait()
    final_of(card)
    err = job.error
    assert err is not None and err.code in card.head.value
    assert "color:#cf222e" in card.head.value and "<video" not in card.head.value


def test_cancel_button_stops_polling(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT + " cancelled", seconds=4, cache=False)
    card = JobCard(job, widgets=True)
    card.cancel_button.click()
    assert job.snapshot().poll_state == "cancelled"
    assert card.progress.bar_style == "warning"
    assert card.cancel_button not in card.widget.children
    assert "cancelled" in card.head.value
    job.resume().wait()


def test_card_holds_the_job_weakly(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False).wait()
    card = JobCard(job, widgets=True, fetch_media=False)
    assert card.job is job
    del job
    gc.collect()
    assert card.job is None
    card.cancel()  # harmless once the job is gone


def test_mimebundle_outside_a_kernel_is_html_and_text(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    bundle = job_mimebundle(job)
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == repr(job)
    assert "sora-nb-card" in bundle["text/html"]
    assert set(job_mimebundle(job, include={"text/plain"})) == {"text/plain"}
    assert set(job_mimebundle(job, exclude={"text/html"})) == {"text/plain"}
    assert "sora-nb-card" in (job._repr_html_() or "")
    card = JobCard(job, widgets=True, fetch_media=False)
    view = card._repr_mimebundle_()
    assert view[WIDGET_VIEW]["model_id"] == card.widget.model_id
    job.wait()


def test_show_every_variant(local: LocalServer, shell: InteractiveShell, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    notebook_dir = tmp_path / "notebook"  # the cache dir is tmp_path / "cache": outside it
    notebook_dir.mkdir()
    monkeypatch.chdir(notebook_dir)
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    with capture_output() as cap:
        job.show()  # waits first (no kernel here: no live card), then the player
        job.show("thumbnail", width=200)
        job.show("spritesheet")
        show_job(job, "video", embed=True)
    html = [o.data["text/html"] for o in cap.outputs]
    assert len(html) == 4
    assert '<video controls preload="metadata" src="sora_nb_media/video-' in html[0]
    assert (notebook_dir / html[0].split('src="')[1].split('"')[0]).is_file()
    assert html[1].startswith("<img") and 'width="200"' in html[1] and ".webp" in html[1]
    # the spritesheet: a scrubber in plain HTML and CSS (it survives the kernel)
    assert "<style>" in html[2] and ".jpg" in html[2] and ":hover" in html[2]
    assert "<script" not in html[2] and "frames: move the pointer" in html[2]
    assert 'poster="sora_nb_media/thumbnail-' in html[0]  # no black box before it plays
    assert 'src="data:video/mp4;base64,' in html[3]
    with pytest.raises(snb.SoraParameterError, match="variant='poster'"):
        job.show("poster")  # type: ignore[arg-type]


def test_spritesheet_scrubber_on_a_real_spritesheet(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, size="1280x720", cache=False)
    path = job.download("spritesheet")
    scrubber = SpriteScrubber(path, aspect=1280 / 720)
    cols, rows = scrubber.grid
    assert len(scrubber.frames) == cols * rows == scrubber.slider.max + 1 > 1
    assert scrubber.image.value == scrubber.frames[0]
    scrubber.slider.value = scrubber.slider.max
    assert scrubber.image.value == scrubber.frames[-1]


def test_sprite_html_steps_through_every_tile() -> None:
    page = sprite_html("sora_nb_media/s.jpg", 5, 4, aspect=16 / 9, uid="t1")
    assert page.count("<i></i>") == 20 and page.count(":hover") == 20
    assert "background-size:500% 400%" in page
    assert "background-position:0.000% 0.000%" in page  # the first tile
    assert "background-position:100.000% 100.000%" in page  # the last
    hostile = sprite_html("x');}body{color:red", 1, 1, uid="t2")
    assert "x');}" not in hostile  # the URL is escaped inside the CSS string
    with pytest.raises(snb.SoraParameterError, match="cols=0"):
        sprite_html("s.jpg", 0, 1)


def test_sprite_grid_finds_the_tiles() -> None:
    # a 5x4 sheet of 16:9 tiles, each a gradient of its own brightness: visible seams
    tw, th = 64, 36
    sheet = Image.new("L", (tw * 5, th * 4))
    for i in range(20):
        tile = Image.linear_gradient("L").resize((tw, th)).point(lambda v, i=i: (v + i * 40) % 256)
        sheet.paste(tile, ((i % 5) * tw, (i // 5) * th))
    assert sprite_grid(sheet, 16 / 9) == (5, 4)
    assert sprite_grid(sheet, None) == (5, 4)
    assert sprite_grid(Image.linear_gradient("L").resize((320, 180)), 16 / 9) == (1, 1)
    buf = io.BytesIO()
    sheet.convert("RGB").save(buf, format="JPEG", quality=85)
    assert sprite_grid(Image.open(buf), 16 / 9) == (5, 4)  # JPEG noise does not fool it
