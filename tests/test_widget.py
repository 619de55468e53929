"""The live card (ipywidgets) through real jobs on the embedded backend: trait values and
bar styles over a whole lifecycle, throttling, media once complete, the weak reference to
the job, the mimebundle, show() for every variant, and the spritesheet scrubber.

Counting what the widgets send: outside a kernel ipywidgets talks through
``comm.create_comm``, which the ``comm`` package documents as the hook a kernel replaces
(ipykernel does exactly that). The ``sent`` fixture plugs in a comm that records what it
would publish; nothing of sora_nb or ipywidgets is patched. The kernel-level count over a
real iopub channel is in test_kernel_live.py."""

from __future__ import annotations

import gc
import io
import itertools
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
from sora_nb._scrubber import SpriteScrubber, sprite_grid
from sora_nb._show import _wait_with_html_card, job_mimebundle, show_job
from sora_nb._types import JobError, JobSnapshot
from sora_nb._widget import BAR_STYLES, WIDGET_VIEW, CardView, JobCard
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


class Flushes(CardView):
    """A CardView whose ``on_flush`` hook signals each delivered snapshot."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delivered = threading.Event()

    def on_flush(self, snap: JobSnapshot) -> None:
        self.delivered.set()


# -- the view, fed snapshot by snapshot ---------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "in_progress", "completed", "failed"])
def test_bar_style_follows_status(status: str) -> None:
    view = CardView()
    error = JobError("moderation_blocked", "<b>no</b>") if status == "failed" else None
    view.push(snap(status=status, progress=55, error=error))
    assert view.progress.bar_style == BAR_STYLES[status]
    assert view.progress.value == 55
    assert view.cancel_button.disabled == (status in ("completed", "failed"))
    if error is not None:
        assert "moderation_blocked" in view.status.value
        assert "&lt;b&gt;no&lt;/b&gt;" in view.status.value and "color:#cf222e" in view.status.value


def test_stopped_polling_turns_the_bar_to_warning() -> None:
    view = CardView()
    view.push(snap(status="in_progress", progress=20, poll_state="cancelled", note="stopped"))
    assert view.progress.bar_style == "warning" and view.cancel_button.disabled
    assert "stopped" in view.status.value


def test_throttle_batches_and_always_delivers_the_final_state(
    sent: list[Sent],
) -> None:
    view = Flushes(min_interval=3600)  # nothing but the first and the final state may pass
    for p in range(0, 100, 2):
        view.push(snap(status="in_progress", progress=p, elapsed=p / 10))
    assert view.flushes == 1 and view.progress.value == 0
    view.push(snap(status="completed", progress=100, elapsed=10.0))
    assert view.flushes == 2 and view.progress.value == 100
    assert view.progress.bar_style == "success"
    # each flush is one update message per changed widget, all traits batched in it
    progress_msgs = [state for state, _ in updates(sent, view.progress)]
    assert len(progress_msgs) <= 2 and progress_msgs[-1] == {"value": 100, "bar_style": "success"}


def test_trailing_flush_delivers_the_latest_pending_state() -> None:
    view = Flushes(min_interval=0.05)
    view.push(snap(status="in_progress", progress=10))
    view.delivered.clear()
    view.push(snap(status="in_progress", progress=20))
    view.push(snap(status="in_progress", progress=30))  # supersedes 20 before it is sent
    assert view.delivered.wait(10)
    assert view.progress.value == 30 and view.flushes == 2


# -- real jobs on the embedded backend ----------------------------------------------------


@pytest.fixture()
def shell() -> Iterator[InteractiveShell]:
    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def wait_for_media(card: JobCard, kind: type[w.Widget]) -> w.Widget:
    """Block until the card's media area holds a ``kind`` widget (observed, not slept)."""
    arrived = threading.Event()

    def check(_change: Any = None) -> None:
        if any(isinstance(c, kind) for c in card.media.children):
            arrived.set()

    card.media.observe(check, names="children")
    check()
    assert arrived.wait(60), f"no {kind.__name__} in {card.media.children}"
    card.media.unobserve(check, names="children")
    return next(c for c in card.media.children if isinstance(c, kind))


def test_lifecycle_on_a_real_job(local: LocalServer,
                                 sent: list[Sent]) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    card = JobCard(job)
    snapshots: list[JobSnapshot] = []
    job.on_progress(snapshots.append)
    styles: list[str] = [card.progress.bar_style]
    values: list[int] = [card.progress.value]
    card.progress.observe(lambda c: styles.append(c["new"]), names="bar_style")
    card.progress.observe(lambda c: values.append(c["new"]), names="value")
    assert job.id in card.header.value and "local" in card.header.value
    job.wait()
    assert card.progress.value == 100 and card.progress.bar_style == "success"
    assert styles[-1] == "success" and set(styles) <= {"", "info", "success"}
    assert values == sorted(values) and values[-1] == 100
    assert "completed" in card.status.value and card.cancel_button.disabled
    video = wait_for_media(card, w.Video)
    assert video.value == job.download().read_bytes() and video.controls
    # Throttling, read off the bar's own messages: the poller sent a snapshot every ~50 ms,
    # yet consecutive updates are at least min_interval (0.2 s) apart, except the final
    # state, which is never held back. (Gaps between send times, not a duration bound.)
    msgs = updates(sent, card.progress)
    assert msgs[-1][0]["value"] == 100
    times = [at for _, at in msgs[:-1]]
    assert all(b - a >= 0.2 * 0.9 for a, b in itertools.pairwise(times))
    assert card.flushes < len(snapshots)


def test_card_shows_thumbnail_first_and_a_hint_for_large_videos(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    card = JobCard(job, video_limit=10)  # every real video is "too large" here
    job.wait()
    thumb = wait_for_media(card, w.Image)
    assert thumb.value == job.download("thumbnail").read_bytes()
    hint = wait_for_media(card, w.HTML)
    assert "job.show()" in hint.value
    assert not any(isinstance(c, w.Video) for c in card.media.children)


def test_failed_job_turns_the_card_red(local: LocalServer) -> None:
    job = snb.SoraJob(f"A scene {MODERATION_MARKER}", seconds=4, cache=False)
    card = JobCard(job)
    with pytest.raises(snb.SoraJobFailed):
        job.wait()
    assert card.progress.bar_style == "danger"
    err = job.error
    assert err is not None and err.code in card.status.value
    assert "color:#cf222e" in card.status.value
    assert card.media.children == ()


def test_cancel_button_stops_polling(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    card = JobCard(job)
    card.cancel_button.click()
    assert job.snapshot().poll_state == "cancelled"
    assert card.progress.bar_style == "warning" and card.cancel_button.disabled
    assert "cancelled" in card.status.value


def test_card_holds_the_job_weakly(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False).wait()
    card = JobCard(job, media=False)
    assert card.job is job
    del job
    gc.collect()
    assert card.job is None
    card.cancel()  # harmless once the job is gone
    assert card.progress.value == 100


def test_mimebundle_outside_a_kernel_is_html_and_text(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    bundle = job_mimebundle(job)
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == repr(job)
    assert "<progress" in bundle["text/html"]
    assert set(job_mimebundle(job, include={"text/plain"})) == {"text/plain"}
    assert set(job_mimebundle(job, exclude={"text/html"})) == {"text/plain"}
    assert "<progress" in job._repr_html_()  # the lead's hook delegates to job_html
    card = JobCard(job, media=False)
    view = card._repr_mimebundle_()
    assert view is not None and view[WIDGET_VIEW]["model_id"] == card.widget.model_id
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
    assert html[2].startswith("<img") and ".jpg" in html[2]
    assert 'src="data:video/mp4;base64,' in html[3]
    with pytest.raises(snb.SoraParameterError, match="variant='poster'"):
        job.show("poster")  # type: ignore[arg-type]


def test_html_fallback_card_updates_in_place_from_the_calling_thread(
    local: LocalServer, shell: InteractiveShell
) -> None:
    # the path show() takes in a kernel without ipywidgets: one display_id, then updates,
    # every one published from the calling thread (never from the runtime thread)
    job = snb.SoraJob(PROMPT, seconds=4, cache=False)
    threads: set[str] = set()
    with capture_output() as cap:
        pub = shell.display_pub
        record = pub.publish

        def publish(*args: Any, **kwargs: Any) -> None:
            threads.add(threading.current_thread().name)
            record(*args, **kwargs)

        pub.publish = publish  # type: ignore[method-assign]
        _wait_with_html_card(job, min_interval=0.05)
    first, *rest = cap.outputs
    assert not first.update and rest and all(o.update for o in rest)
    ids = {o.transient["display_id"] for o in cap.outputs}
    assert len(ids) == 1  # every update targets the first display
    assert 'data-status="completed"' in rest[-1].data["text/html"]
    assert threads == {threading.current_thread().name}
    assert job.status == "completed"


def test_spritesheet_scrubber_on_a_real_spritesheet(local: LocalServer) -> None:
    job = snb.SoraJob(PROMPT, seconds=4, size="1280x720", cache=False)
    path = job.download("spritesheet")
    scrubber = SpriteScrubber(path, aspect=1280 / 720)
    cols, rows = scrubber.grid
    assert len(scrubber.frames) == cols * rows == scrubber.slider.max + 1 > 1
    assert scrubber.image.value == scrubber.frames[0]
    scrubber.slider.value = scrubber.slider.max
    assert scrubber.image.value == scrubber.frames[-1]


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
