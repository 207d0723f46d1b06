"""Render scan results as one self-contained HTML file.

Why a single file with everything inlined (CSS, thumbnails as ``data:`` URIs,
no scripts): reports are mailed to reviewers and regulators and opened
offline, and a report that fetched anything would leak what was scanned. A
Content-Security-Policy that forbids every external load backs this up.

Everything a file or its metadata controls (names, tag values, generator
prompts) is hostile input and is HTML-escaped; invisible control and
direction characters are shown as ``\\u…`` escapes, so a file name cannot
pretend to end in ``.png`` with a right-to-left override.

Thumbnails decode media, so they are bounded three ways: at most
``max_thumbnails`` files get one, each decode runs under the configured
limits (with the decode time capped), and any failure becomes a placeholder.
A report never fails because one file is broken.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import io
import itertools
import json
import os
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePath
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from deepguard import __version__
from deepguard._format import human_size
from deepguard.config import Limits
from deepguard.errors import MediaLimitExceeded, UnsupportedFormat
from deepguard.media.av import iter_audio, iter_frames
from deepguard.media.image import load_image
from deepguard.media.probe import MediaKind
from deepguard.scan.finding import Finding
from deepguard.scan.result import ScanResult

__all__ = ["DEFAULT_MAX_THUMBNAILS", "render_html", "write_html"]

_T = TypeVar("_T")

DEFAULT_MAX_THUMBNAILS = 500
THUMB_SIDE = 256
VIDEO_FRAMES = 3
VIDEO_SEARCH_S = 300.0
"""Keyframes are looked for in the first five minutes only: a screen recording
with one keyframe would otherwise be read to the end for nothing."""
AUDIO_SECONDS = 30.0
AUDIO_RATE = 8_000
_THUMB_DECODE_S = 20.0
"""Per-file decode budget for a thumbnail; a preview is not worth more."""
_MAX_JSON_CHARS = 4_000
"""Longer finding details (a ComfyUI workflow can be 100 KB) are cut in the
report; the JSON scan result keeps them whole."""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_LABELS: dict[str | None, tuple[str, str]] = {
    "1": ("l1", "AI-generated"),
    "2": ("l2", "possibly AI-generated"),
    "3": ("l3", "suspected AI-generated"),
    None: ("none", "no AI indication"),
}

_DOC_NAMES = {
    "application/pdf": "PDF",
    "text/markdown": "MD",
    "text/plain": "TXT",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PPTX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
}


_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode categories that render as nothing or reorder text."""


# --- escaping ----------------------------------------------------------------


def _visible(text: str) -> str:
    """Replace control, format (bidi, zero-width) and separator characters
    with ``\\uXXXX`` so that what a reviewer reads is what the bytes say."""
    if text.isprintable():
        return text
    return "".join(
        f"\\u{ord(ch):04x}"
        if ch not in "\n\t" and unicodedata.category(ch) in _HIDDEN
        else ch
        for ch in text
    )


def _e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(_visible(str(value)), quote=True)


def _compact_json(value: Any, *, limit: int = _MAX_JSON_CHARS) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > limit:
        more = len(text) - limit
        text = f"{text[:limit]} … ({more} more characters in the JSON result)"
    return text


# --- thumbnails --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Thumb:
    """What the thumbnail column shows for one file.

    ``style`` is ``image``, ``frames``, ``waveform``, ``document`` or
    ``none``; ``images`` are (data URI, caption) pairs; ``note`` explains a
    placeholder.
    """

    style: str
    images: tuple[tuple[str, str], ...] = ()
    note: str = ""


def _data_uri(im: Image.Image, fmt: str = "JPEG") -> str:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, "JPEG", quality=80, optimize=True)
        mime = "image/jpeg"
    else:
        im.save(buf, "PNG", optimize=True)
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def _take(items: Iterator[_T], n: int) -> list[_T]:
    """The first ``n`` items, then close the generator so that its container
    is closed now rather than whenever it is garbage-collected.

    Running out of decode time after some items keeps those items: two
    keyframes are a better preview than none.
    """
    taken: list[_T] = []
    try:
        for item in itertools.islice(items, n):
            taken.append(item)
    except MediaLimitExceeded:
        if not taken:
            raise
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    return taken


def _image_thumb(path: Path, limits: Limits) -> _Thumb:
    im = load_image(path, limits=limits, max_side=THUMB_SIDE)
    return _Thumb("image", ((_data_uri(im), f"{im.width}×{im.height} preview"),))


def _video_thumb(path: Path, limits: Limits) -> _Thumb:
    frames = iter_frames(
        path,
        limits=limits,
        fps=None,
        keyframes_only=True,
        max_side=THUMB_SIDE,
        end_s=VIDEO_SEARCH_S,
    )
    picked = _take(frames, VIDEO_FRAMES)
    if not picked:
        return _Thumb("none", note="no decodable keyframe")
    images = tuple(
        (_data_uri(Image.fromarray(f.image, "RGB")), f"{f.timestamp:.2f} s")
        for f in picked
    )
    return _Thumb("frames", images)


def _waveform(
    samples: npt.NDArray[np.float32], width: int = 256, height: int = 72
) -> Image.Image:
    """Min/max envelope per pixel column, peak-normalised (with a floor, so
    near-silence stays flat instead of turning into amplified noise)."""
    im = Image.new("RGB", (width, height), (241, 243, 245))
    draw = ImageDraw.Draw(im)
    mid = (height - 1) / 2
    draw.line((0, mid, width, mid), fill=(206, 212, 218))
    if samples.size == 0:
        return im
    cols = np.array_split(samples.astype(np.float32), min(width, samples.size))
    lows = np.array([c.min() for c in cols])
    highs = np.array([c.max() for c in cols])
    scale = 1.0 / max(float(np.abs(samples).max()), 0.1)
    step = width / len(cols)
    for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
        x = int(i * step)
        top = mid - float(hi) * scale * (mid - 2)
        bottom = mid - float(lo) * scale * (mid - 2)
        draw.line(
            (x, top, x, max(bottom, top + 1)),
            fill=(59, 91, 219),
            width=max(1, int(step)),
        )
    return im


def _audio_thumb(path: Path, limits: Limits) -> _Thumb:
    windows = iter_audio(
        path, limits=limits, sample_rate=AUDIO_RATE, window_s=AUDIO_SECONDS
    )
    taken = _take(windows, 1)
    first = taken[0] if taken else None
    if first is None or first.samples.size == 0:
        return _Thumb("none", note="no audio samples")
    seconds = first.samples.size / first.sample_rate
    caption = f"waveform, first {seconds:.1f} s"
    return _Thumb("waveform", ((_data_uri(_waveform(first.samples), "PNG"), caption),))


def _doc_thumb(result: ScanResult) -> _Thumb:
    mime = result.file.mime or "unknown type"
    return _Thumb("document", note=mime)


def _thumbnail(result: ScanResult, limits: Limits) -> _Thumb:
    """A preview for one result; never raises.

    A file that changed size since the scan gets no preview: showing the
    new content next to the old findings would mislead a reviewer.
    """
    kind = result.file.kind
    if kind in (MediaKind.DOCUMENT, MediaKind.TEXT):
        return _doc_thumb(result)
    if kind is None:
        return _Thumb("none", note="file could not be identified")
    path = Path(result.file.path)
    try:
        if result.file.size is not None and path.stat().st_size != result.file.size:
            return _Thumb("none", note="file changed since the scan")
        if kind == MediaKind.IMAGE:
            return _image_thumb(path, limits)
        if kind == MediaKind.VIDEO:
            try:
                return _video_thumb(path, limits)
            except UnsupportedFormat:  # audio-only MP4: show its sound instead
                return _audio_thumb(path, limits)
        if kind == MediaKind.AUDIO:
            return _audio_thumb(path, limits)
    # A preview is decoration: not even a decoder bug may lose the report.
    except Exception as exc:
        return _Thumb("none", note=f"no preview: {type(exc).__name__}")
    return _Thumb("none", note=f"no preview for {kind}")


def _thumbnails(
    results: Sequence[ScanResult], limits: Limits, cap: int
) -> list[_Thumb]:
    """Previews for the first ``cap`` results, decoded on a few threads
    (Pillow and FFmpeg release the GIL while decoding)."""
    thumb_limits = limits.model_copy(
        update={"max_decode_s": min(limits.max_decode_s, _THUMB_DECODE_S)}
    )
    head = list(results[: max(cap, 0)])
    workers = max(1, min(8, os.cpu_count() or 1, len(head)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        thumbs = list(pool.map(lambda r: _thumbnail(r, thumb_limits), head))
    skipped = _Thumb("none", note=f"preview skipped (limit of {cap} previews)")
    return thumbs + [skipped] * (len(results) - len(head))


# --- small formatters --------------------------------------------------------


def _human_size(size: int | None) -> str:
    return "size unknown" if size is None else human_size(size, byte_unit="bytes")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _media_parts(media: dict[str, Any]) -> list[str]:
    """Human-readable media facts, in a stable order; unknown keys last."""
    parts: list[str] = []
    known = {"width", "height", "duration_s", "frame_rate", "sample_rate", "channels"}
    known |= {"codecs", "format_name"}
    if media.get("width") and media.get("height"):
        parts.append(f"{media['width']}×{media['height']}")
    if isinstance(media.get("duration_s"), int | float):
        parts.append(_duration(float(media["duration_s"])))
    if media.get("frame_rate"):
        parts.append(f"{media['frame_rate']:g} fps")
    if isinstance(media.get("sample_rate"), int | float):
        channels = media.get("channels")
        ch = (
            {1: "mono", 2: "stereo"}.get(channels, f"{channels} ch") if channels else ""
        )
        parts.append(f"{media['sample_rate'] / 1000:g} kHz {ch}".strip())
    if media.get("codecs"):
        parts.append(", ".join(str(c).split(":", 1)[-1] for c in media["codecs"]))
    if media.get("format_name"):
        parts.append(str(media["format_name"]))
    parts += [f"{key} {value}" for key, value in media.items() if key not in known]
    return parts


def _short_sha(sha256: str | None) -> str:
    if not sha256:
        return "—"
    return f'<code title="{_e(sha256)}">{_e(sha256[:12])}…{_e(sha256[-4:])}</code>'


# --- HTML pieces -------------------------------------------------------------------


def _badge(label: str | None) -> str:
    css, text = _LABELS.get(label, _LABELS[None])
    prefix = f"Label {label} · " if label else ""
    return f'<span class="badge {css}">{_e(prefix + text)}</span>'


def _render_thumb(thumb: _Thumb, name: str) -> str:
    if thumb.style in ("image", "waveform"):
        uri, caption = thumb.images[0]
        css = "wave" if thumb.style == "waveform" else "still"
        return (
            f'<figure class="{css}"><img src="{uri}" alt="preview of {_e(name)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    if thumb.style == "frames":
        figures = "".join(
            f'<figure><img src="{uri}" alt="keyframe at {_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
            for uri, caption in thumb.images
        )
        return f'<div class="strip n{len(thumb.images)}">{figures}</div>'
    if thumb.style == "document":
        short = _DOC_NAMES.get(thumb.note, thumb.note.rsplit("/", 1)[-1][:4].upper())
        return (
            f'<div class="placeholder"><div class="doc-icon">{_e(short)}</div>'
            f'<div class="note">{_e(thumb.note)}</div></div>'
        )
    return (
        '<div class="placeholder broken"><div class="doc-icon">?</div>'
        f'<div class="note">{_e(thumb.note or "no preview")}</div></div>'
    )


def _identity(result: ScanResult) -> str:
    f = result.file
    kind = " · ".join(
        _e(x) for x in (f.kind or "unknown kind", f.mime or "unknown type")
    )
    rows = [
        ("Path", f"<code>{_e(f.path)}</code>"),
        ("SHA-256", _short_sha(f.sha256)),
        ("Type", f"{kind} · {_e(_human_size(f.size))}"),
    ]
    media = _media_parts(result.media)
    if media:
        rows.append(("Media", '<span class="sep">·</span>'.join(_e(p) for p in media)))
    if result.scanned_at:
        rows.append(("Scanned", _e(result.scanned_at)))
    body = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="identity">{body}</dl>'


def _confidence(value: float) -> str:
    pct = max(0.0, min(1.0, value)) * 100
    return (
        f'<span class="conf">{value:.2f}'
        f'<span class="bar"><span style="width:{pct:.0f}%"></span></span></span>'
    )


def _finding_row(finding: Finding) -> str:
    where = f"<code>{_e(_compact_json(finding.where))}</code>" if finding.where else "—"
    if finding.details:
        details = (
            f"<details><summary>{len(finding.details)} field(s)</summary>"
            f"<pre>{_e(_compact_json(finding.details))}</pre></details>"
        )
    else:
        details = "—"
    return (
        f'<tr><td class="det">{_e(finding.detector)}</td>'
        f'<td class="kind"><code>{_e(finding.kind)}</code></td>'
        f"<td>{_confidence(finding.confidence)}</td>"
        f"<td>{_e(finding.summary)}</td><td>{where}</td><td>{details}</td></tr>"
    )


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return '<h3>Findings</h3><p class="none-found">No findings.</p>'
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Detector", "Kind", "Confidence", "Summary", "Where", "Details")
    )
    rows = "".join(_finding_row(f) for f in findings)
    return (
        f"<h3>Findings ({len(findings)})</h3>"
        '<div class="table-wrap"><table class="findings">'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _reasons(reasons: Iterable[str]) -> str:
    items = "".join(f"<li>{_e(r)}</li>" for r in reasons)
    return f'<h3>Why</h3><ul class="reasons">{items}</ul>' if items else ""


def _errors(result: ScanResult) -> str:
    if not result.errors:
        return ""
    items = "".join(
        f'<li><span class="stage">{_e(err.stage)}</span> '
        f"<strong>{_e(err.error)}</strong>: {_e(err.message)}</li>"
        for err in result.errors
    )
    return f'<h3>Errors ({len(result.errors)})</h3><ul class="errors">{items}</ul>'


def _card(index: int, result: ScanResult, thumb: _Thumb) -> str:
    label = result.verdict.aigc_label
    name = PurePath(result.file.path).name or result.file.path
    classes = ["card", _LABELS.get(label, _LABELS[None])[0]]
    badges = [_badge(label)]
    if not result.ok:
        classes.append("failed")
        count = len(result.errors)
        badges.append(
            f'<span class="badge err">{count} error{"s" * (count != 1)}</span>'
        )
    return (
        f'<article class="{" ".join(classes)}" id="file-{index}">'
        f'<div class="thumb">{_render_thumb(thumb, name)}</div>'
        f'<div class="card-body"><div class="card-head"><h2>{_e(name)}</h2>'
        f"{''.join(badges)}</div>"
        f"{_identity(result)}{_reasons(result.verdict.reasons)}</div>"
        f'<div class="card-wide">{_findings(result.findings)}{_errors(result)}</div>'
        "</article>"
    )


def _totals(results: Sequence[ScanResult]) -> str:
    labels = Counter(r.verdict.aigc_label for r in results)
    ok = sum(1 for r in results if r.ok)
    failed = len(results) - ok
    tiles = [
        ("files", "Files", len(results)),
        ("ok", "Scanned OK", ok),
        ("failed", "Failed", failed),
    ]
    tiles += [
        (_LABELS[key][0], f"Label {key} · {_LABELS[key][1]}", labels.get(key, 0))
        for key in ("1", "2", "3")
    ]
    tiles.append(("none", "No AI indication", labels.get(None, 0)))
    body = "".join(
        f'<div class="tile {css}"><dt>{_e(text)}</dt>'
        f'<dd class="{"nonzero" if count else "zero"}">{count}</dd></div>'
        for css, text, count in tiles
    )
    return f'<dl class="totals">{body}</dl>'


@functools.cache
def _css() -> str:
    return resources.files(__package__).joinpath("report.css").read_text("utf-8")


# --- public API ----------------------------------------------------------------------


def render_html(
    results: Sequence[ScanResult],
    *,
    limits: Limits,
    title: str = "deepguard scan report",
    max_thumbnails: int = DEFAULT_MAX_THUMBNAILS,
) -> str:
    """The report for ``results`` as one self-contained HTML document.

    ``limits`` bound the decoding done for thumbnails (the report re-reads the
    files at their recorded paths); only the first ``max_thumbnails`` files
    get one, so a report over a million files stays cheap to make.
    """
    thumbs = _thumbnails(results, limits, max_thumbnails)
    cards = "\n".join(
        _card(i, r, t) for i, (r, t) in enumerate(zip(results, thumbs, strict=True))
    )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    policies = sorted({r.verdict.policy for r in results}) or ["v1"]
    meta = (
        f"Generated {generated} · deepguard {__version__} · "
        f"verdict policy {', '.join(policies)}"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="deepguard {_e(__version__)}">
<title>{_e(title)}</title>
<style>
{_css()}
</style>
</head>
<body>
<div class="page">
<header class="report-head">
<div class="brand">deepguard</div>
<h1>{_e(title)}</h1>
<p class="meta">{_e(meta)}</p>
{_totals(results)}
</header>
<main class="cards">
{cards or '<p class="empty">No files were scanned.</p>'}
</main>
<footer class="report-foot">
Labels follow the Art. 6 classes of the Measures for Labeling AI-Generated Synthetic
Content (GB 45438-2025): 1 AI-generated, 2 possibly AI-generated (declared by the
uploader), 3 suspected AI-generated. Previews are made for at most
{max(max_thumbnails, 0)} files. Finding details longer than {_MAX_JSON_CHARS}
characters are shortened here; the JSON scan results hold them in full.
</footer>
</div>
</body>
</html>
"""


def write_html(
    results: Sequence[ScanResult],
    out: Path,
    *,
    limits: Limits,
    title: str = "deepguard scan report",
    max_thumbnails: int = DEFAULT_MAX_THUMBNAILS,
) -> Path:
    """Render the report and write it to ``out`` atomically; return ``out``.

    The report is written to a temporary file in the same directory and moved
    into place, so a reader (or a crash) never sees half a report.

    Raises:
        OSError: the directory cannot be written.
    """
    document = render_html(
        results, limits=limits, title=title, max_thumbnails=max_thumbnails
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{out.name}.", suffix=".tmp", dir=out.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(document)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
