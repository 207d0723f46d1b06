"""Metadata-only scan throughput: deepguard against exiftool on the same files.

Why exiftool: it is the reader platforms already run over uploads to pull
metadata, so "as fast as exiftool" is the bar for turning deepguard's
metadata scan on for every upload. Both tools read the same generated corpus
(JPEG, PNG, MP4, MP3, WAV; one file in five with AI metadata) in the same run,
each timed as a median of repeated runs after a warm-up, so disk cache and
interpreter start-up treat them alike. Start-up is part of every timing on
purpose: it is what a batch job pays.

Run:  .venv/bin/python bench/scan_throughput.py [--files 1000] [--workers N] [--out DIR]

Prints a table and writes it as Markdown to bench/out/scan_throughput.md.
Exit code 3 when exiftool is missing and cannot be installed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _common import Measurement, cpu_model, ensure_exiftool, exiftool_version, timed
from deepguard import __version__
from deepguard.config import Settings
from deepguard.demo import generate_mixed_corpus
from deepguard.scan import (
    Scanner,
    ScanOptions,
    ScanResult,
    iter_input_paths,
    scan_paths,
)

REPO = Path(__file__).resolve().parents[1]
MARKDOWN_OUT = REPO / "bench" / "out" / "scan_throughput.md"


# --- tools -------------------------------------------------------------------


def exiftool_run(exe: str, corpus: Path, *, fast: bool) -> Callable[[], None]:
    """A run of ``exiftool [-fast] -j -r DIR > /dev/null`` (batch mode: one
    process for all files, exiftool's fastest way through a directory)."""
    cmd = [exe, *(["-fast"] if fast else []), "-j", "-r", str(corpus)]

    def run() -> None:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return run


def count_exiftool_files(exe: str, corpus: Path) -> int:
    """How many files exiftool actually reads, so the comparison is like for like."""
    proc = subprocess.run(
        [exe, "-j", "-r", "-FileName", str(corpus)], capture_output=True, check=False
    )
    return len(json.loads(proc.stdout or b"[]"))


def deepguard_run(
    corpus: Path, settings: Settings, workers: int | None, sink: list[ScanResult]
) -> Callable[[], None]:
    """A metadata-only batch scan of the directory, as ``deepguard scan`` does:
    walking the directory is on the clock, as it is for ``exiftool -r``."""

    def run() -> None:
        paths = list(iter_input_paths([corpus]))
        options = ScanOptions(metadata_only=True)
        sink[:] = scan_paths(paths, settings=settings, options=options, workers=workers)

    return run


# --- machine and corpus ------------------------------------------------------


def prepare_corpus(directory: Path, files: int, seed: int) -> list[Path]:
    """Generate the corpus; refuse a directory that holds anything else,
    because exiftool -r would read those files too."""
    paths = generate_mixed_corpus(directory, files, seed=seed)
    present = [p for p in directory.rglob("*") if p.is_file()]
    if len(present) != len(paths):
        msg = (
            f"{directory} holds {len(present) - len(paths)} other file(s); "
            "give --out an empty or new directory"
        )
        raise SystemExit(msg)
    return paths


def check_scanner(settings: Settings) -> None:
    """Build the scanner once here, so a broken install fails with its own
    message instead of as a thousand crashed workers."""
    scanner = Scanner.from_settings(settings, metadata_only=True)
    if not scanner.detectors:
        raise SystemExit("deepguard has no metadata detectors; nothing to measure")


def startup_seconds(home: Path) -> float:
    """What a fresh ``deepguard`` process (or pool worker) pays before its first
    file: interpreter, imports and building the scanner. The in-process rows
    pay it once, in the warm-up run, so it is reported separately."""
    code = (
        "from pathlib import Path; from deepguard.config import Settings; "
        "from deepguard.scan import Scanner; "
        f"Scanner.from_settings(Settings(home=Path({str(home)!r})), metadata_only=True)"
    )
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def summarise(results: Sequence[ScanResult]) -> str:
    labels = Counter(r.verdict.aigc_label or "none" for r in results)
    errors = sum(1 for r in results if not r.ok)
    parts = ", ".join(f"label {k}: {v}" for k, v in sorted(labels.items()))
    return f"{len(results)} results ({parts}; with errors: {errors})"


# --- output ------------------------------------------------------------------


def rows(measurements: Sequence[Measurement], baseline: Measurement) -> list[list[str]]:
    return [
        [
            m.tool,
            str(m.files),
            f"{m.median:.2f}",
            f"{m.files_per_s:,.0f}",
            f"{m.files_per_s / baseline.files_per_s:.2f}×",
        ]
        for m in measurements
    ]


HEADERS = ["tool", "files", "seconds (median)", "files/s", "ratio vs exiftool"]


def rich_table(body: list[list[str]], caption: str) -> Table:
    table = Table(title="Metadata-only scan throughput", caption=caption)
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in body:
        table.add_row(*row)
    return table


def markdown(body: list[list[str]], notes: list[str]) -> str:
    lines = ["## Metadata-only scan throughput", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def profile_single_worker(corpus: Path, settings: Settings, top: int = 30) -> None:
    """Where one worker spends its time (cProfile, cumulative)."""
    paths = list(iter_input_paths([corpus]))
    options = ScanOptions(metadata_only=True)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in scan_paths(paths, settings=settings, options=options, workers=1):
        pass
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


# --- main --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="corpus size")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="deepguard workers (default: all cores)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="corpus directory (kept)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per tool")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile a one-worker scan"
    )
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace, corpus: Path, home: Path) -> None:
    console = Console()
    exe = ensure_exiftool()
    settings = Settings(home=home)
    check_scanner(settings)
    workers = args.workers or settings.effective_workers
    with console.status(f"generating {args.files} files in {corpus}"):
        paths = prepare_corpus(corpus, args.files, args.seed)
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    seen = count_exiftool_files(exe, corpus)
    if seen != len(paths):
        console.print(f"[yellow]note: exiftool reads {seen} of {len(paths)} files[/]")

    results: list[ScanResult] = []
    measurements = []
    runs: list[tuple[str, int, Callable[[], None]]] = [
        (
            f"deepguard, {workers} workers",
            len(paths),
            deepguard_run(corpus, settings, workers, results),
        ),
        (
            "deepguard, 1 worker",
            len(paths),
            deepguard_run(corpus, settings, 1, []),
        ),
        ("exiftool -j -r", seen, exiftool_run(exe, corpus, fast=False)),
        ("exiftool -fast -j -r", seen, exiftool_run(exe, corpus, fast=True)),
    ]
    for tool, files, run in runs:
        with console.status(f"timing {tool}"):
            measurements.append(timed(tool, files, run, args.repeats))
    baseline = measurements[2]

    notes = [
        f"Machine: {os.cpu_count()} cores, {cpu_model()}; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"Versions: deepguard {__version__}, exiftool {exiftool_version(exe)}",
        f"Corpus: {len(paths)} files ({size_mb:.1f} MB): JPEG, PNG, MP4, MP3, WAV "
        f"cycled, 20% with AI metadata (`generate_mixed_corpus(seed={args.seed})`)",
        f"Median of {args.repeats} runs after one warm-up run. exiftool starts perl "
        "each run; the 1-worker scan runs in this process, the N-worker scan starts "
        "N spawned workers each run. A fresh deepguard process needs "
        f"{startup_seconds(home):.2f} s before its first file.",
        "exiftool uses one core; the 1-worker row is the per-core comparison.",
        f"deepguard results: {summarise(results)}",
    ]
    body = rows(measurements, baseline)
    console.print(rich_table(body, caption="\n".join(notes)))
    MARKDOWN_OUT.parent.mkdir(parents=True, exist_ok=True)
    MARKDOWN_OUT.write_text(markdown(body, notes), encoding="utf-8")
    console.print(f"written {MARKDOWN_OUT.relative_to(REPO)}")
    if args.profile:
        profile_single_worker(corpus, settings)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.files < 1 or args.repeats < 1:
        raise SystemExit("--files and --repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="deepguard-bench-") as tmp:
        home = Path(tmp) / "home"
        corpus = args.out if args.out is not None else Path(tmp) / "corpus"
        run_benchmark(args, corpus, home)


if __name__ == "__main__":
    main()
