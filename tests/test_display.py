"""The pure HTML card and text views of a job snapshot, media markup (relative links under
./sora_nb_media/ and base64 embedding), and the terminal progress bar."""

from __future__ import annotations

import base64
import io
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from sora_nb import _show
from sora_nb._display import (
    STATUS_COLORS,
    CardMedia,
    bar_html,
    card_html,
    format_seconds,
    phase_text,
    short_id,
    status_word,
)
from sora_nb._errors import SoraMediaError, SoraParameterError
from sora_nb._jobstate import remaining_seconds
from sora_nb._show import MEDIA_DIR, media_html, publish_media, show_media
from sora_nb._textbar import TextProgress
from sora_nb._types import JobError, JobSnapshot

XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def snap(**changes: object) -> JobSnapshot:
    base = JobSnapshot(
        id="video_abc123", status="in_progress", progress=42, prompt="A calico cat",
        original_prompt="A calico cat", model="sora-2", size="1280x720", seconds=8,
        backend="local", from_cache=False, created_at=1_700_000_000.0, elapsed=12.3, eta=17.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Tags(HTMLParser):
    """Every element the markup creates, with its attributes, and all text."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> list[str]:
        return [t for t, _ in self.tags]

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


# -- the card ---------------------------------------------------------------------------


def test_card_structure_of_a_running_job() -> None:
    html = card_html(snap())
    doc = Tags(html)
    (bar,) = [a for a in doc.find("div") if a.get("role") == "progressbar"]
    assert bar["aria-valuenow"] == "42"
    assert "width:42%" in html
    assert "script" not in doc.names() and "video" not in doc.names()
    text = "".join(doc.text)
    for part in ("A calico cat", "sora-2", "1280x720", "8 s", "local", "video_abc123",
                 "in progress", "42%", "12s elapsed", "about 17s left"):
        assert part in text, part
    assert "from cache" not in text and "download" not in text
    assert 'data-status="in_progress"' in html and "#0969da" in html


def test_short_ids_status_words_and_colours() -> None:
    long_id = "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"
    assert short_id(long_id) == "video_68d7512d" and short_id("video_abc123") == "video_abc123"
    html = card_html(snap(id=long_id))
    assert f'title="{long_id}"' in html and ">video_68d7512d</code>" in html
    assert status_word("in_progress") == "in progress"
    assert status_word("some_new") == "some_new"  # unknown: exactly as the server sent it
    # queued grey, cancelled and expired their own colours (not the running blue)
    queued = card_html(snap(status="queued", progress=0))
    assert STATUS_COLORS["queued"] in queued and STATUS_COLORS["in_progress"] not in queued
    for status in ("cancelled", "expired"):
        page = card_html(snap(status=status, eta=None))
        assert STATUS_COLORS[status] in page and f">{status}</span>" in page
        assert "about" not in page and "width:100%" in page  # final: bar full, no ETA
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)


def test_phases_say_what_happens() -> None:
    # after the server says completed, the card says what it fetches: no 99 %, no ETA 0
    fetching = card_html(snap(status="completed", progress=100, eta=0.0),
                         fetching="fetching the video…")
    text = "".join(Tags(fetching).text)
    assert "fetching the video…" in text and "left" not in text and "99" not in text
    # an ETA only when it means something
    assert "left" not in phase_text(snap(eta=0.4)) and "left" not in phase_text(snap(eta=None))
    assert "left" not in phase_text(snap(status="queued", progress=0, eta=5.0))
    # unknown progress: elapsed time, no percent, no ETA, a striped full bar
    unknown = snap(progress=None, eta=12.0)
    assert phase_text(unknown) == "12s elapsed"
    assert "repeating-linear-gradient" in bar_html(unknown)
    # a cache hit says so, without a made-up elapsed time
    cached = phase_text(snap(status="completed", progress=100, from_cache=True))
    assert cached.startswith("reused from cache") and "elapsed" not in cached


def test_hostile_prompt_error_and_id_render_inert() -> None:
    s = snap(status="failed", prompt=XSS + " more", original_prompt=XSS, id='v"><b>x',
             error=JobError(code="<i>moderation</i>", message=XSS), note=XSS,
             backend="<svg onload=alert(1)>")
    media = CardMedia(video='x" onerror="alert(1)', poster='x" onerror="alert(1)', path=XSS)
    doc = Tags(card_html(s, media))
    # no element came out of user or server text: only the card's own markup
    assert not {"script", "svg", "i", "b"} - {"b"} & set(doc.names())
    assert all("onerror" not in attrs and "onload" not in attrs for _, attrs in doc.tags)
    text = "".join(doc.text)
    assert text.count(XSS) >= 3  # prompt, error message, note: shown as text
    assert "<i>moderation</i>" in text


def test_enhanced_part_is_marked() -> None:
    s = snap(prompt="A calico cat, cinematic lighting, 16:9", original_prompt="A calico cat")
    html = card_html(s)
    m = re.search(r'class="sora-nb-enhancement"[^>]*>([^<]*)<', html)
    assert m is not None and m[1] == ", cinematic lighting, 16:9"
    # rewritten (not appended) prompts show what was sent
    other = card_html(snap(prompt="Something else", original_prompt="A calico cat"))
    assert "sent: Something else" in other


def test_failure_reason_first_in_red_and_a_completed_card_that_helps() -> None:
    failed = card_html(snap(status="failed", progress=30,
                            error=JobError("moderation_blocked", "Blocked by moderation")))
    m = re.search(r'class="sora-nb-error" style="color:#cf222e[^"]*">(.*?)</div>', failed)
    assert m is not None and "moderation_blocked" in m[1] and "Blocked by moderation" in m[1]
    assert failed.index("sora-nb-error") < failed.index("sora-nb-prompt")  # reason first
    assert "width:100%" in failed and "width:30%" not in failed  # full and red, not frozen
    assert " left" not in "".join(Tags(failed).text) and "next:" not in failed
    media = CardMedia(video="sora_nb_media/v.mp4", poster="sora_nb_media/t.webp",
                      path="sora_nb_media/v.mp4")
    done = card_html(snap(status="completed", progress=100), media)
    doc = Tags(done)
    (video,) = doc.find("video")
    assert video["src"] == "sora_nb_media/v.mp4" and video["poster"] == "sora_nb_media/t.webp"
    assert "controls" in video
    (link,) = doc.find("a")
    assert link["href"] == "sora_nb_media/v.mp4" and "download" in link
    text = "".join(doc.text)
    assert "ready in 12s" in text and "created " in text and "job.remix(" in text
    assert "Cancel" not in text
    # show() holds the player: the card keeps the poster only
    poster_only = card_html(snap(status="completed", progress=100),
                            CardMedia(video="v.mp4", poster="t.webp", player=False))
    assert "<video" not in poster_only and Tags(poster_only).find("img")[0]["src"] == "t.webp"
    assert "played by job.show() below" in poster_only


def test_the_text_line_of_a_snapshot_is_one_line() -> None:
    line = TextProgress(io.StringIO()).render(snap(error=JobError("bad", "went\nwrong")))
    assert "\n" not in line and len(line) <= 79
    assert "42% in progress" in line and line.startswith("video_abc123 [")
    assert "(bad) went wrong" in line
    running = TextProgress(io.StringIO()).render(snap())
    assert "about 17s left" in running
    failed = TextProgress(io.StringIO()).render(snap(status="failed", eta=3.0))
    assert "left" not in failed and "100% failed" in failed  # a finished job has no ETA
    assert "polling cancelled" in TextProgress(io.StringIO()).render(snap(poll_state="cancelled"))


def test_eta_and_format_seconds() -> None:
    # the job's ETA: its rate since it was first seen in progress, extrapolated to 100
    assert remaining_seconds(None, 2.0, 30, "in_progress") is None
    assert remaining_seconds((0.0, 10), 2.0, 30, "in_progress") == pytest.approx(7.0)
    assert remaining_seconds((0.0, 10), 2.0, 10, "in_progress") is None  # no progress yet
    assert remaining_seconds((0.0, 10), 2.0, 100, "completed") is None
    assert remaining_seconds((0.0, 10), 2.0, 30, "queued") is None
    assert [format_seconds(x) for x in (None, -1, 4.25, 42, 187, 3720)] == [
        "—", "—", "4.2s", "42s", "3m 07s", "1h 02m"
    ]


# -- media ------------------------------------------------------------------------------


@pytest.fixture()
def clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small file outside the working directory, which is a fresh notebook folder."""
    src = tmp_path / "cache" / "video_1" / "video.mp4"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    notebook_dir = tmp_path / "notebooks"
    notebook_dir.mkdir()
    monkeypatch.chdir(notebook_dir)
    return src


def test_video_links_a_published_copy_by_relative_path(clip: Path) -> None:
    markup = media_html(clip)
    video = Tags(markup).find("video")
    assert len(video) == 1 and "controls" in video[0]
    src = str(video[0]["src"])
    assert src.startswith(f"{MEDIA_DIR}/video-") and src.endswith(".mp4")
    published = Path.cwd() / src
    assert published.read_bytes() == clip.read_bytes()
    assert published.stat().st_ino == clip.stat().st_ino  # hard link: no second copy
    assert media_html(clip) == markup  # re-run reuses it
    assert not list(published.parent.glob(".*"))  # no temp files left behind
    # a file already in the notebook's folder is linked where it is
    local = Path.cwd() / "out" / "my clip.mp4"
    local.parent.mkdir()
    local.write_bytes(b"x")
    assert Tags(media_html(local)).find("video")[0]["src"] == "out/my%20clip.mp4"
    # ... unless it is in a hidden folder, which Jupyter does not serve
    hidden = Path.cwd() / ".cache" / "v.mp4"
    hidden.parent.mkdir()
    hidden.write_bytes(b"x")
    assert publish_media(hidden).startswith(f"{MEDIA_DIR}/v-")


def test_image_and_width(clip: Path) -> None:
    thumb = clip.with_name("thumbnail.webp")
    thumb.write_bytes(b"RIFF0000WEBP")
    img = Tags(media_html(thumb, "image", width=320)).find("img")
    assert img[0]["width"] == "320" and str(img[0]["src"]).endswith(".webp")
    assert img[0]["alt"] == "thumbnail.webp"


def test_embed_inlines_base64_and_warns_when_large(clip: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = str(Tags(media_html(clip, embed=True)).find("video")[0]["src"])
    assert src.startswith("data:video/mp4;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == clip.read_bytes()
    assert not (Path.cwd() / MEDIA_DIR).exists()  # embedding publishes nothing
    big = clip.with_name("big.mp4")
    big.write_bytes(b"\0" * (_show.EMBED_WARN_BYTES + 1))
    with pytest.warns(UserWarning, match="may make your notebook files huge"):
        media_html(big, embed=True)


def test_bad_media_arguments_name_the_parameter(clip: Path) -> None:
    with pytest.raises(SoraParameterError, match=r"kind='audio'.*'video' or 'image'"):
        media_html(clip, "audio")  # type: ignore[arg-type]
    for bad in (0, -5, 2.5, True):
        with pytest.raises(SoraParameterError, match="width="):
            media_html(clip, width=bad)  # type: ignore[arg-type]
    with pytest.raises(SoraMediaError, match="no media file"):
        media_html(clip.with_name("missing.mp4"))


@pytest.fixture()
def shell() -> Iterator[InteractiveShell]:
    """A real (non-kernel) IPython shell, so display() publishes where capture_output sees."""
    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def test_show_media_displays_html_with_a_text_fallback(
    clip: Path, shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    with capture_output() as cap:
        show_media(clip, width=480)
    (out,) = cap.outputs
    assert out.data["text/plain"] == "<video video.mp4>"
    assert Tags(out.data["text/html"]).find("video")[0]["width"] == "480"


def test_show_media_without_ipython_prints_the_path(
    clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    InteractiveShell.clear_instance()
    show_media(clip)
    assert capsys.readouterr().out.strip() == f"video: {clip}"


# -- the terminal bar -------------------------------------------------------------------


def test_text_progress_rewrites_one_line_and_ends_it() -> None:
    out = io.StringIO()
    bar = TextProgress(stream=out, width=10)
    bar(snap(status="queued", progress=0, eta=None))
    bar(snap(progress=50))
    bar(snap(progress=50))  # unchanged: not redrawn
    bar(snap(status="completed", progress=100, elapsed=20.0))
    bar.close()
    bar.close()
    bar(snap(progress=60))  # after close: ignored
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    frames = text.strip("\n").split("\r")[1:]
    assert frames[0].startswith("video_abc123 [----------]   0% queued")
    assert frames[1].startswith("video_abc123 [#####-----]  50% in progress 12s, about 17s left")
    assert frames[2].startswith("video_abc123 [##########] 100% completed 20s")
    assert all(len(f.rstrip()) <= 79 for f in frames)
    # a shorter line blanks out the rest of a longer one
    assert len(frames[2]) >= len(frames[1].rstrip())


def test_text_progress_failure_and_bad_width() -> None:
    out = io.StringIO()
    with TextProgress(stream=out) as bar:
        bar(snap(status="failed", error=JobError("moderation_blocked", "no\nnewlines")))
    assert "[" + "#" * 20 + "] 100% failed" in out.getvalue()  # full, not frozen
    assert "100% failed (moderation_blocked) no newlin…\n" in out.getvalue()  # 79 columns
    with pytest.raises(SoraParameterError, match="width=2"):
        TextProgress(width=2)


# -- statuses servers send, progress they may not --------------------------------------


def test_cancelled_and_expired_have_their_own_words_and_colours() -> None:
    cancelled = card_html(snap(status="cancelled", progress=40, eta=None))
    expired = card_html(snap(status="expired", progress=100, eta=None))
    assert Tags(cancelled).text[0] == "cancelled" and "failed" not in "".join(Tags(cancelled).text)
    assert Tags(expired).text[0] == "expired" and "failed" not in "".join(Tags(expired).text)
    assert STATUS_COLORS["cancelled"] in cancelled  # purple: stopped on purpose
    assert STATUS_COLORS["expired"] in expired  # rust: it was there, its files are gone
    assert STATUS_COLORS["cancelled"] != STATUS_COLORS["expired"]
    assert "#cf222e" not in cancelled + expired  # neither is shown as a failure


def test_an_unknown_status_is_shown_as_sent_and_escaped() -> None:
    html = card_html(snap(status="<b>warming_up</b>", eta=None))
    assert "<b>warming_up</b>" in "".join(Tags(html).text)
    assert "&lt;b&gt;warming_up&lt;/b&gt;" in html  # escaped, never markup


def test_no_progress_means_an_indeterminate_bar_and_no_eta() -> None:
    html = card_html(snap(progress=None, eta=None))
    (bar,) = [t for t in Tags(html).find("div") if t.get("role") == "progressbar"]
    assert "aria-valuenow" not in bar  # no percentage claimed
    assert "repeating-linear-gradient" in html  # striped: it moves, it does not fill
    text = "".join(Tags(html).text)
    assert "12s elapsed" in text and "left" not in text and "%" not in text
    line = TextProgress(io.StringIO(), width=10).render(snap(progress=None, eta=None))
    assert line.startswith("video_abc123 [----------]    % in progress")
    done = next(t for t in Tags(card_html(snap(status="completed", progress=100))).find("div")
                if t.get("role") == "progressbar")
    assert done["aria-valuenow"] == "100"


def test_stills_made_locally_are_said_on_the_card() -> None:
    html = card_html(snap(status="completed", progress=100, made_locally=("thumbnail",)))
    assert "thumbnail made from the video" in "".join(Tags(html).text)
    assert "made from the video" not in card_html(snap(status="completed", progress=100))
