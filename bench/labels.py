"""Implicit-label throughput per format: deepguard against exiftool.

Why exiftool: it is what platforms and providers reach for to write and read
XMP today, so it is the peer for both sides of GB 45438 labelling. For every
format both tools label the same N copies of one generated file with the same
AIGC JSON (deepguard in its carrier for the format, exiftool as XMP-TC260:AIGC
where it can write XMP at all), then read the label back from the files
deepguard wrote (exiftool ``-AIGC`` in any group, so it finds the TC260 XMP
property, a PNG text chunk, an MP4 key, a PDF Info entry...).

deepguard runs in this process, one file after another on one core;
exiftool runs in batch mode (one process for all N files), its fastest mode.
Each timing is the median of the repeats after one warm-up.

Run:  .venv/bin/python bench/labels.py [--n 50] [--repeats 3] [--formats jpeg,mp4]

Prints a table and writes it as Markdown to bench/out/labels.md. Exit code 3
when exiftool is missing and cannot be installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _common import (
    EXIFTOOL_TC260_CONFIG,
    REPO,
    Measurement,
    cpu_model,
    ensure_exiftool,
    exiftool_version,
    timed,
)
from deepguard import __version__
from deepguard.labels.fields import AigcFields, LabelStatus
from deepguard.labels.implicit import read_label, write_label

sys.path.insert(0, str(REPO / "tests"))
from media_factory import write_audio, write_image, write_video

MARKDOWN_OUT = REPO / "bench" / "out" / "labels.md"
SHARED_MEDIA = REPO.parent / "shared" / "data" / "media"
FIELDS = AigcFields(
    label="1",
    content_producer="001191440300708461136T1XGW3",
    produce_id="bench-0001",
    reserved_code1="ed25519.0123456789abcdef.c2lnbmF0dXJl",
)


def _pdf(path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=595, height=842)
    with path.open("wb") as fh:
        writer.write(fh)


def _docx(path: Path) -> None:
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/><Override '
        'PartName="/word/document.xml" ContentType="application/vnd.openxml'
        'formats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
        'schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://'
        'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
        "<w:t>deepguard benchmark document</w:t></w:r></w:p></w:body></w:document>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr("_rels/.rels", rels)
        zf.writestr("word/document.xml", doc)


def _markdown(path: Path) -> None:
    body = "# Generated article\n\n" + "A paragraph of generated text.\n\n" * 40
    path.write_text(body, encoding="utf-8")


def _shared(name: str) -> Callable[[Path], None]:
    def copy(path: Path) -> None:
        shutil.copyfile(SHARED_MEDIA / name, path)

    return copy


SIZE = (640, 480)
FORMATS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "jpeg": (".jpg", lambda p: write_image(p, "JPEG", size=SIZE, quality=90)),
    "png": (".png", lambda p: write_image(p, "PNG", size=SIZE)),
    "webp": (".webp", lambda p: write_image(p, "WEBP", size=SIZE)),
    "tiff": (".tif", lambda p: write_image(p, "TIFF", size=SIZE)),
    "gif": (".gif", lambda p: write_image(p, "GIF", size=SIZE)),
    "heic": (".heic", _shared("sample1.heic")),
    "mp4": (".mp4", lambda p: write_video(p, seconds=2, size=(320, 240))),
    "mov": (".mov", lambda p: write_video(p, seconds=2, size=(320, 240), fmt="mov")),
    "mkv": (
        ".mkv",
        lambda p: write_video(p, seconds=2, size=(320, 240), fmt="matroska"),
    ),
    "avi": (".avi", lambda p: write_video(p, seconds=2, size=(320, 240), fmt="avi")),
    "flv": (".flv", lambda p: write_video(p, seconds=2, size=(320, 240), fmt="flv")),
    "wav": (".wav", lambda p: write_audio(p, seconds=5)),
    "flac": (".flac", lambda p: write_audio(p, seconds=5, codec="flac")),
    "opus": (
        ".opus",
        lambda p: write_audio(p, seconds=5, rate=48000, codec="libopus", fmt="ogg"),
    ),
    "mp3": (
        ".mp3",
        lambda p: write_audio(p, seconds=5, rate=44100, codec="libmp3lame"),
    ),
    "m4a": (
        ".m4a",
        lambda p: write_audio(p, seconds=5, rate=44100, codec="aac", fmt="ipod"),
    ),
    "pdf": (".pdf", _pdf),
    "docx": (".docx", _docx),
    "markdown": (".md", _markdown),
}


def prepare(fmt: str, root: Path, n: int) -> tuple[list[Path], Path, Path]:
    """N copies of one base file, plus empty output folders for each tool."""
    suffix, make = FORMATS[fmt]
    src = root / fmt / "src"
    src.mkdir(parents=True)
    base = src / f"base{suffix}"
    make(base)
    paths = [base]
    for i in range(1, n):
        copy = src / f"f{i:04d}{suffix}"
        shutil.copyfile(base, copy)
        paths.append(copy)
    return paths, root / fmt / "deepguard", root / fmt / "exiftool"


def deepguard_write(paths: list[Path], out: Path) -> Callable[[], None]:
    def run() -> None:
        out.mkdir(exist_ok=True)
        for path in paths:
            write_label(path, FIELDS, out=out / path.name)

    return run


def deepguard_read(paths: list[Path], sink: list[LabelStatus]) -> Callable[[], None]:
    def run() -> None:
        sink[:] = [read_label(p).status for p in paths]

    return run


def exiftool_write(
    exe: str, cfg: Path, paths: list[Path], out: Path
) -> Callable[[], None]:
    """One batch exiftool process writing XMP-TC260:AIGC into copies in ``out``."""
    tag = f"-XMP-TC260:AIGC={FIELDS.to_json()}"
    cmd = [exe, "-config", str(cfg), "-q", "-q", "-m", tag, "-o", f"{out}/"]
    cmd += [str(p) for p in paths]

    def run() -> None:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return run


_READ_TAGS = ("-AIGC", "-UserDefinedText")
"""exiftool names an ID3 ``TXXX`` frame UserDefinedText, whatever its description."""


def exiftool_read(exe: str, cfg: Path, folder: Path) -> Callable[[], None]:
    cmd = [exe, "-config", str(cfg), "-fast", "-j", *_READ_TAGS, str(folder)]

    def run() -> None:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return run


def exiftool_found(exe: str, cfg: Path, folder: Path) -> int:
    """How many files in ``folder`` exiftool finds an AIGC value in."""
    proc = subprocess.run(
        [exe, "-config", str(cfg), "-fast", "-j", *_READ_TAGS, str(folder)],
        capture_output=True,
        check=False,
    )
    rows = json.loads(proc.stdout or b"[]")
    return sum(1 for row in rows if any("AIGC" in str(v) for v in row.values()))


def _rate(m: Measurement | None) -> str:
    return "n/a" if m is None else f"{m.files_per_s:,.0f}"


def _ratio(a: Measurement | None, b: Measurement | None) -> str:
    if a is None or b is None:
        return "n/a"
    return f"{a.files_per_s / b.files_per_s:.1f}×"


HEADERS = [
    "format",
    "write deepguard f/s",
    "write exiftool f/s",
    "write ratio",
    "read deepguard f/s",
    "read exiftool f/s",
    "read ratio",
    "exiftool found",
]


def bench_format(
    fmt: str, root: Path, exe: str, cfg: Path, n: int, repeats: int
) -> list[str]:
    paths, dg_out, et_out = prepare(fmt, root, n)
    dg_w = timed("deepguard", n, deepguard_write(paths, dg_out), repeats)
    statuses: list[LabelStatus] = []
    dg_r = timed(
        "deepguard", n, deepguard_read(sorted(dg_out.iterdir()), statuses), repeats
    )
    bad = [s for s in statuses if s is not LabelStatus.COMPLIANT]
    if bad:
        raise SystemExit(f"{fmt}: deepguard read back {bad[0]} for its own label")
    et_w_run = exiftool_write(exe, cfg, paths, et_out)
    et_w_run()
    written = len(list(et_out.iterdir())) if et_out.exists() else 0
    et_w = timed("exiftool", n, et_w_run, repeats) if written == n else None
    found = exiftool_found(exe, cfg, dg_out)
    et_r = timed("exiftool", n, exiftool_read(exe, cfg, dg_out), repeats)
    return [
        fmt,
        _rate(dg_w),
        _rate(et_w) if et_w else "cannot write",
        _ratio(dg_w, et_w),
        _rate(dg_r),
        _rate(et_r),
        _ratio(dg_r, et_r),
        f"{found}/{n}",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="files per format")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise SystemExit(f"unknown formats {unknown}; choose from {list(FORMATS)}")
    if "heic" in formats and not SHARED_MEDIA.is_dir():
        formats.remove("heic")
    console = Console()
    exe = ensure_exiftool()
    body: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="deepguard-bench-labels-") as tmp:
        root = Path(tmp)
        cfg = root / "tc260.config"
        cfg.write_text(EXIFTOOL_TC260_CONFIG, encoding="utf-8")
        for fmt in formats:
            with console.status(f"{fmt}: {args.n} files"):
                body.append(bench_format(fmt, root, exe, cfg, args.n, args.repeats))
    notes = [
        f"Machine: {os.cpu_count()} cores, {cpu_model()}; Python "
        f"{platform.python_version()}; deepguard {__version__}, exiftool "
        f"{exiftool_version(exe)}",
        f"{args.n} copies of one generated file per format; median of "
        f"{args.repeats} runs after a warm-up; deepguard in-process on one core, "
        "exiftool one batch process per run.",
        "'cannot write': exiftool has no XMP writer for the format. 'exiftool "
        "found': files in which exiftool sees deepguard's label.",
    ]
    table = Table(
        title="Implicit labels: write and read throughput", caption="\n".join(notes)
    )
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in body:
        table.add_row(*row)
    console.print(table)
    lines = ["## Implicit labels: write and read throughput", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|---" + "|---:" * 7 + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    MARKDOWN_OUT.parent.mkdir(parents=True, exist_ok=True)
    MARKDOWN_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    console.print(f"written {MARKDOWN_OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
