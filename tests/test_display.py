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
from sora_nb._display import format_seconds, job_html
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
    html = job_html(snap())
    doc = Tags(html)
    (bar,) = doc.find("progress")
    assert (bar["max"], bar["value"]) == ("100", "42")
    assert "script" not in doc.names()
    text = "".join(doc.text)
    for part in ("A calico cat", "sora-2", "1280x720", "8s", "local", "video_abc123",
                 "in progress", "42%", "elapsed 12s", "ETA 17s"):
        assert part in text
    assert "from cache" not in text and "enhanced" not in text
    assert 'data-status="in_progress"' in html


def test_hostile_prompt_error_and_id_render_inert() -> None:
    s = snap(status="failed", prompt=XSS + " more", original_prompt=XSS, id='v"><b>x',
             error=JobError(code="<i>moderation</i>", message=XSS), note=XSS,
             backend="<svg onload=alert(1)>")
    doc = Tags(job_html(s, thumbnail_src='x" onerror="alert(1)'))
    # no element came out of user or server text: only the card's own markup
    assert not {"script", "img", "svg", "i"} & set(doc.names())
    assert all("onerror" not in attrs and "onload" not in attrs for _, attrs in doc.tags)
    text = "".join(doc.text)
    assert text.count(XSS) >= 3  # prompt, error message, note: shown as text
    assert "<i>moderation</i>" in text


def test_enhanced_part_is_marked() -> None:
    s = snap(prompt="A calico cat, cinematic lighting, 16:9", original_prompt="A calico cat")
    html = job_html(s)
    m = re.search(r'class="sora-nb-enhancement"[^>]*>([^<]*)<', html)
    assert m is not None and m[1] == ", cinematic lighting, 16:9"
    assert "enhanced" in "".join(Tags(html).text)
    # rewritten (not appended) prompts show what was sent
    other = job_html(snap(prompt="Something else", original_prompt="A calico cat"))
    assert "sent: Something else" in other


def test_failure_shows_code_and_message_in_red_and_completion_the_thumbnail() -> None:
    failed = job_html(snap(status="failed", progress=30,
                           error=JobError("moderation_blocked", "Blocked by moderation")))
    m = re.search(r'class="sora-nb-error" style="color:#cf222e[^"]*">(.*?)</div>', failed)
    assert m is not None and "moderation_blocked" in m[1] and "Blocked by moderation" in m[1]
    assert "ETA" not in failed  # no ETA once terminal
    running = job_html(snap(), thumbnail_src="sora_nb_media/t.webp")
    assert "<img" not in running  # thumbnail only once complete
    done = job_html(snap(status="completed", progress=100), thumbnail_src="sora_nb_media/t.webp")
    assert Tags(done).find("img")[0]["src"] == "sora_nb_media/t.webp"
    cached = job_html(snap(from_cache=True, status="completed", progress=100))
    assert "from cache" in "".join(Tags(cached).text)


def test_the_text_line_of_a_snapshot_is_one_line() -> None:
    line = TextProgress(io.StringIO()).render(snap(error=JobError("bad", "went\nwrong")))
    assert "\n" not in line
    assert "42% in_progress" in line and line.endswith("video_abc123")
    assert "ETA 17s" in line and "[bad] went wrong" in line
    failed = TextProgress(io.StringIO()).render(snap(status="failed", eta=3.0))
    assert "ETA" not in failed  # a finished job has no ETA
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
    assert frames[0].startswith("[----------]   0% queued")
    assert frames[1].startswith("[#####-----]  50% in_progress 12s ETA 17s")
    assert frames[2].startswith("[##########] 100% completed 20s")
    # a shorter line blanks out the rest of a longer one
    assert len(frames[2]) >= len(frames[1].rstrip())


def test_text_progress_failure_and_bad_width() -> None:
    out = io.StringIO()
    with TextProgress(stream=out) as bar:
        bar(snap(status="failed", error=JobError("moderation_blocked", "no\nnewlines")))
    assert "[moderation_blocked] no newlines" in out.getvalue()
    with pytest.raises(SoraParameterError, match="width=2"):
        TextProgress(width=2)


# -- statuses servers send, progress they may not --------------------------------------


def test_cancelled_and_expired_have_their_own_words_and_colours() -> None:
    cancelled = job_html(snap(status="cancelled", progress=40, eta=None))
    expired = job_html(snap(status="expired", progress=100, eta=None))
    assert "cancelled on the server" in "".join(Tags(cancelled).text)
    assert "expired" in "".join(Tags(expired).text)
    assert "border-left:4px solid #424a53" in cancelled  # neutral dark grey
    assert "border-left:4px solid #bf8700" in expired  # amber
    assert "#cf222e" not in cancelled + expired  # neither is shown as a failure


def test_an_unknown_status_is_shown_as_sent_and_escaped() -> None:
    html = job_html(snap(status="<b>warming_up</b>", eta=None))
    assert "<b>warming_up</b>" in "".join(Tags(html).text)
    assert "&lt;b&gt;warming_up&lt;/b&gt;" in html  # escaped, never markup


def test_no_progress_means_an_indeterminate_bar_and_no_eta() -> None:
    html = job_html(snap(progress=None, eta=None))
    (bar,) = Tags(html).find("progress")
    assert "value" not in bar  # the browser's indeterminate bar
    text = "".join(Tags(html).text)
    assert "progress not reported" in text and "elapsed 12s" in text and "ETA" not in text
    line = TextProgress(io.StringIO(), width=10).render(snap(progress=None, eta=None))
    assert line.startswith("[~~~~~~~~~~]   ?% in_progress")
    done = Tags(job_html(snap(status="completed", progress=100))).find("progress")[0]
    assert done["value"] == "100"


def test_stills_made_locally_are_said_on_the_card() -> None:
    html = job_html(snap(status="completed", progress=100, made_locally=("thumbnail",)))
    assert "thumbnail made from the video" in "".join(Tags(html).text)
    assert "made from the video" not in job_html(snap(status="completed", progress=100))
