"""Pure HTML of the job card: its live head and its final, kernel-free form, with the status
words and colours, short ids and times it shows. No I/O: files and display live in
``_show`` and ``_widget``; the ``<video>``/``<img>`` tag of a media file in ``_media_html``."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from ._types import TERMINAL, JobSnapshot

__all__ = [
    "FINAL_STATUSES",
    "INDETERMINATE_CLASS",
    "LIVE_CLASS",
    "STATUS_COLORS",
    "STOPPED_COLOR",
    "CardMedia",
    "bar_html",
    "card_html",
    "clock",
    "error_html",
    "format_seconds",
    "live_bar_text",
    "live_class",
    "live_head_html",
    "phase_text",
    "short_id",
    "status_color",
    "status_word",
]


def _e(value: object) -> str:
    """HTML-escape anything (quotes too, so the result is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def format_seconds(seconds: float | None) -> str:
    """Compact human duration: ``4.2s``, ``42s``, ``3m 07s``, ``1h 02m``; ``—`` for None."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


#: One colour per status, used by the card, its progress bar, the grid, the gallery and the
#: CLI's words (GitHub Primer's palette: readable on light and dark themes).
STATUS_COLORS: dict[str, str] = {
    "queued": "#6e7781",       # grey: nothing happens yet
    "in_progress": "#0969da",  # blue
    "completed": "#1a7f37",    # green
    "failed": "#cf222e",       # red
    "cancelled": "#8250df",    # purple: stopped on purpose, not an error
    "expired": "#953800",      # rust: it was there, its files are gone
}
#: Statuses after which the server never changes the job again: the one ``TERMINAL`` set.
FINAL_STATUSES = TERMINAL
#: The colour of a job whose polling stopped here (cancelled, timed out, unreachable).
STOPPED_COLOR = "#9a6700"
_UNKNOWN_COLOR = "#6e7781"
#: Words for the statuses and poll states sora_nb knows; any other status is shown as sent.
_WORDS = {"in_progress": "in progress", "timed_out": "timed out"}
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
_MUTED = "opacity:.7"
_CODE = ("font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11px;"
         "background:rgba(127,127,127,.12);border-radius:4px;padding:1px 4px")


def status_word(status: str) -> str:
    """What a person reads for ``status``: ``in progress``, ``completed``; a status this
    package does not know is shown exactly as the server sent it."""
    return _WORDS.get(status, str(status))


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, _UNKNOWN_COLOR)


def short_id(video_id: str, keep: int = 8) -> str:
    """``video_68d7512d07848190…`` -> ``video_68d7512d``: the prefix and the first ``keep``
    characters after it, enough to tell jobs apart (``sora-nb status`` takes any unique
    start of an id). Short ids are returned as they are."""
    head, sep, body = video_id.rpartition("_")
    if len(video_id) <= len(head) + len(sep) + keep + 2:
        return video_id
    return f"{head}{sep}{body[:keep]}"


_format_seconds = format_seconds


def clock(ts: float, now: float | None = None) -> str:
    """A creation time as people read it: ``16:02`` today, ``Nov 28 16:02`` before."""
    local, today = time.localtime(ts), time.localtime(time.time() if now is None else now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    if local.tm_year == today.tm_year:
        return time.strftime("%b %d %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


@dataclass(frozen=True)
class CardMedia:
    """What a finished card links (URLs relative to the notebook, or ``data:`` URIs).

    ``player=False`` when ``job.show()`` holds the job's player: the card then shows the
    poster only, so one job never has two players in view."""

    video: str | None = None
    poster: str | None = None
    path: str | None = None
    note: str | None = None
    player: bool = True


def phase_text(snap: JobSnapshot, fetching: str | None = None, *, coarse: bool = False) -> str:
    """The status line's words: percent, time, ETA only when it means something.
    ``coarse``: durations of a running job to the whole second (a live label changes less
    often)."""

    def format_seconds(seconds: float | None) -> str:  # shadows the module's, on purpose
        if coarse and seconds is not None and 0 <= seconds < 60:
            return f"{round(seconds)}s"
        return _format_seconds(seconds)

    progress = snap.progress
    known = progress is not None  # a server may not report progress at all
    if fetching is not None:
        return f"done on the server · {fetching}"
    if snap.status == "completed":
        if snap.from_cache:
            return f"reused from cache · first made {clock(snap.created_at)}"
        return f"ready in {format_seconds(snap.elapsed)} · created {clock(snap.created_at)}"
    if snap.status in FINAL_STATUSES:
        return (f"{status_word(snap.status)} after {format_seconds(snap.elapsed)} · "
                f"created {clock(snap.created_at)}")
    bits = [f"{progress}%"] if known and snap.status != "queued" else []
    bits.append(f"{format_seconds(snap.elapsed)} elapsed")
    eta = snap.eta
    if (known and eta is not None and eta >= 1 and snap.status == "in_progress"
            and snap.poll_state == "active"):
        bits.append(f"about {format_seconds(eta)} left")
    if snap.poll_state not in ("active", "done"):
        bits.append(f"polling {status_word(snap.poll_state)}")
    return " · ".join(bits)


def _color(snap: JobSnapshot) -> str:
    if snap.status not in FINAL_STATUSES and snap.poll_state not in ("active", "done"):
        return STOPPED_COLOR
    return status_color(snap.status)


def bar_html(snap: JobSnapshot, *, fetching: bool = False) -> str:
    """The progress bar as two ``div``s (styled the same everywhere, unlike ``<progress>``).
    Full when the job is final (red for a failure) or its media is being fetched; striped
    when the server gives no percentage."""
    color = _color(snap)
    progress = snap.progress
    if snap.status in FINAL_STATUSES or fetching:
        width, fill = 100, color
    elif progress is None:
        width = 100
        fill = (f"repeating-linear-gradient(45deg,{color} 0 8px,"
                f"color-mix(in srgb,{color} 45%,transparent) 8px 16px)")
    else:
        width, fill = max(0, min(100, int(progress))), color
    now = "" if progress is None else f' aria-valuenow="{int(progress)}"'
    return (
        f'<div class="sora-nb-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"'
        f'{now} style="height:8px;border-radius:4px;background:rgba(127,127,127,.2);'
        f'overflow:hidden;margin:6px 0 4px"><div style="width:{width}%;height:100%;'
        f'background:{fill}"></div></div>'
    )


def _badge(text: str, color: str, cls: str, title: str = "") -> str:
    tip = f' title="{_e(title)}"' if title else ""
    return (f'<span class="{cls}"{tip} style="display:inline-block;padding:0 7px;'
            f'border-radius:9px;font-size:11px;line-height:18px;font-weight:600;color:#fff;'
            f'background:{color}">{_e(text)}</span>')


def _pill(snap: JobSnapshot, fetching: str | None) -> str:
    word = status_word(snap.status)
    if fetching is not None:
        word = "fetching"
    elif snap.status not in FINAL_STATUSES and snap.poll_state not in ("active", "done"):
        word = f"{word} · polling {status_word(snap.poll_state)}"
    return _badge(word, _color(snap), "sora-nb-status")


def _meta(snap: JobSnapshot, fetching: str | None) -> str:
    items = [
        _pill(snap, fetching),
        f"<span>{_e(snap.model)}</span>",
        f"<span>{_e(snap.size)}</span>",
        f"<span>{_e(snap.seconds)} s</span>",
        f'<span class="sora-nb-backend" style="{_MUTED}">{_e(snap.backend)}</span>',
        f'<code class="sora-nb-id" title="{_e(snap.id)}" style="{_CODE}">'
        f"{_e(short_id(snap.id))}</code>",
    ]
    if snap.from_cache:
        items.append(_badge("from cache", "#57606a", "sora-nb-cache",
                            "an identical request was made before: this is that job"))
    if snap.remixed_from:
        items.append(f'<span style="{_MUTED}">from <code title="{_e(snap.remixed_from)}" '
                     f'style="{_CODE}">{_e(short_id(snap.remixed_from))}</code></span>')
    return ('<div class="sora-nb-meta" style="display:flex;flex-wrap:wrap;gap:4px 8px;'
            'align-items:center;font-size:12px">' + "".join(items) + "</div>")


def error_html(snap: JobSnapshot) -> str:
    """The server's reason for a failure, red, code first ('' when there is none)."""
    if snap.error is None:
        return ""
    message = f" {_e(snap.error.message)}" if snap.error.message else ""
    return (f'<div class="sora-nb-error" style="color:{STATUS_COLORS["failed"]};'
            f'font-size:13px;margin:6px 0 2px;padding:4px 8px;border-radius:4px;'
            f'background:rgba(207,34,46,.08)"><b>{_e(snap.error.code)}</b>{message}</div>')


def _prompt(snap: JobSnapshot, prompt_html: str | None = None) -> str:
    if prompt_html is not None:  # already escaped markup (a grid's marked-up prompt)
        return (f'<div class="sora-nb-prompt" style="margin:6px 0 2px;font-size:13px;'
                f'line-height:1.45;overflow-wrap:anywhere">{prompt_html}</div>')
    added = ""
    if snap.enhanced:
        text = snap.enhancement or f" (sent: {snap.prompt})"
        added = (f'<span class="sora-nb-enhancement" title="added by enhance_prompt(); '
                 f'pass enhance=False to send your words only" style="opacity:.5;'
                 f'font-style:italic">{_e(text)}</span>')
    return (f'<div class="sora-nb-prompt" style="margin:6px 0 2px;font-size:13px;'
            f'line-height:1.45;overflow-wrap:anywhere">{_e(snap.original_prompt)}{added}</div>')


def _line(snap: JobSnapshot, fetching: str | None) -> str:
    rows = [f'<div class="sora-nb-phase" style="font-size:12px;{_MUTED}">'
            f"{_e(phase_text(snap, fetching))}</div>"]
    # ``made_locally`` (stills sora_nb made from the MP4 because the server had none)
    # arrives with server profiles; getattr keeps this view working before and after.
    made = tuple(getattr(snap, "made_locally", ()) or ())
    made_note = (" and ".join(made) + " made from the video (the server has none)"
                 if made else None)
    for note in (snap.note, made_note):
        if note:
            rows.append(f'<div class="sora-nb-note" style="font-size:12px;{_MUTED}">'
                        f"{_e(note)}</div>")
    return "".join(rows)


#: Moving stripes for the live bar of a job whose server reports no progress (ipywidgets'
#: ``IntProgress`` has no indeterminate state): the card gives the bar this class.
INDETERMINATE_CLASS = "sora-nb-indeterminate"
_INDETERMINATE_CSS = (
    f"<style>.{INDETERMINATE_CLASS} .progress-bar{{background-image:repeating-linear-gradient("
    "-45deg,rgba(255,255,255,.35) 0 10px,transparent 10px 20px);background-size:28px 28px;"
    "animation:sora-nb-stripes 1s linear infinite}"
    "@keyframes sora-nb-stripes{from{background-position:0 0}to{background-position:28px 0}}"
    "</style>"
)


#: The live card's frame, drawn by CSS on the widget box (a class costs no comm; a Layout
#: of its own would be one more): the card's border and a left edge in the status colour.
LIVE_CLASS = "sora-nb-live"
_LIVE_CSS = (
    f"<style>.{LIVE_CLASS}{{box-sizing:border-box;max-width:640px;padding:8px 12px;"
    "border:1px solid rgba(127,127,127,.3);border-radius:8px}"
    f".{LIVE_CLASS} .widget-hprogress .widget-label{{font-size:12px;opacity:.75;"
    "margin-right:8px}"
    # the bar as thin as the static card's, so the card does not jump when it turns static
    f".{LIVE_CLASS} .widget-hprogress .progress{{height:8px;border-radius:4px;"
    "align-self:center;background:rgba(127,127,127,.2)}"
    + "".join(f".{LIVE_CLASS}-{status}{{border-left:4px solid {color}}}"
              for status, color in {**STATUS_COLORS, "stopped": STOPPED_COLOR}.items())
    + "</style>"
)


def live_class(snap: JobSnapshot) -> str:
    """The frame class for ``snap``: its status, or ``stopped`` once polling stopped."""
    if snap.status not in FINAL_STATUSES and snap.poll_state not in ("active", "done"):
        return f"{LIVE_CLASS}-stopped"
    return f"{LIVE_CLASS}-{snap.status if snap.status in STATUS_COLORS else 'queued'}"


def live_head_html(snap: JobSnapshot, fetching: str | None = None, *,
                   prompt_html: str | None = None) -> str:
    """The live card's HTML above its progress bar widget: meta row, the red reason, the
    prompt and any note. The numbers that change at every poll (percent, elapsed, ETA)
    are the bar's label instead (``live_bar_text``), so this HTML is resent only when the
    status or a note changes: a few kB per card, however long the job runs."""
    css = _LIVE_CSS + (_INDETERMINATE_CSS if snap.progress is None and fetching is None else "")
    notes = _line(snap, fetching).split("</div>", 1)[1]  # the notes, without the phase
    return (f'{css}<div class="sora-nb-head" style="{_FONT}">{_meta(snap, fetching)}'
            f"{error_html(snap)}{_prompt(snap, prompt_html)}{notes}</div>")


def live_bar_text(snap: JobSnapshot, fetching: str | None = None) -> str:
    """The live bar's label: the phase in words, durations to the whole second."""
    return phase_text(snap, fetching, coarse=True)


def _media(snap: JobSnapshot, media: CardMedia) -> str:
    parts = []
    if media.video and media.player:
        poster = f' poster="{_e(media.poster)}"' if media.poster else ""
        parts.append(
            f'<video class="sora-nb-video" controls preload="metadata" src="{_e(media.video)}"'
            f'{poster} style="display:block;width:100%;max-width:100%;border-radius:6px;'
            f'margin-top:6px;background:#000">Your browser cannot play this video.</video>'
        )
    elif media.poster:
        parts.append(f'<img class="sora-nb-thumb" src="{_e(media.poster)}" alt="thumbnail of '
                     f'{_e(snap.id)}" style="display:block;width:100%;border-radius:6px;'
                     f'margin-top:6px">')
        if media.video and not media.player:
            parts.append(f'<div style="font-size:12px;{_MUTED}">played by job.show() '
                         "below</div>")
    if media.note:
        parts.append(f'<div class="sora-nb-media-note" style="font-size:12px;{_MUTED}">'
                     f"{_e(media.note)}</div>")
    return "".join(parts)


def _footer(snap: JobSnapshot, media: CardMedia | None, compact: bool = False) -> str:
    """Download link and file, the full id (selectable: a click selects all of it), and
    what to do next. ``compact`` (a grid cell): the link only, the path in its tooltip."""
    rows = []
    if media is not None and media.video and not media.video.startswith("data:"):
        name = media.path or media.video
        link = (f'<a class="sora-nb-download" href="{_e(media.video)}" download '
                f'title="{_e(name)}" style="color:#0969da;text-decoration:underline">'
                "download MP4</a>")
        rows.append(link if compact else f'{link} <code style="{_CODE}">{_e(name)}</code>')
    if not compact:
        rows.append(f'id <code class="sora-nb-fullid" style="{_CODE};user-select:all;'
                    f'overflow-wrap:anywhere">{_e(snap.id)}</code>')
    if not compact and snap.status == "completed":
        rows.append(f'next: <code style="{_CODE}">job.remix("…")</code> '
                    f'<code style="{_CODE}">job.extend("…", seconds=4)</code>')
    if not rows:
        return ""
    return ('<div class="sora-nb-footer" style="display:flex;flex-wrap:wrap;gap:2px 14px;'
            f'font-size:12px;margin-top:6px;{_MUTED}">'
            + "".join(f"<span>{r}</span>" for r in rows) + "</div>")


def card_html(snap: JobSnapshot, media: CardMedia | None = None, *,
              fetching: str | None = None, prompt_html: str | None = None,
              footer: bool = True, compact: bool = False, width: str = "640px") -> str:
    """The whole card as one self-contained block (inline CSS, no script): what a saved
    notebook, nbconvert's HTML or GitHub shows once the kernel is gone. Every string from
    a user or a server is escaped. ``media`` (a completed job's files) adds the player,
    with the thumbnail as its poster, and a download link."""
    color = _color(snap)
    body = [_meta(snap, fetching), error_html(snap), _prompt(snap, prompt_html),
            _line(snap, fetching),
            bar_html(snap, fetching=fetching is not None)]
    if media is not None:
        body.append(_media(snap, media))
    if footer and snap.status in FINAL_STATUSES and fetching is None:
        body.append(_footer(snap, media, compact))
    return (
        f'<div class="sora-nb-card" data-status="{_e(snap.status)}" style="{_FONT};'
        "box-sizing:border-box;border:1px solid rgba(127,127,127,.3);"
        f"border-left:4px solid {color};border-radius:8px;padding:8px 12px;"
        f'max-width:{width}">' + "".join(body) + "</div>"
    )
