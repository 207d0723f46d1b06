"""Fuzz every implicit-label reader with Hypothesis-generated mutations.

For each carrier the seed is a file of that format carrying a real label
(made as ``bench/labels.py`` makes its corpus). Hypothesis draws byte-level
mutations of the seed (flips, overwrites with boundary values, insertions,
deletions, truncation, splicing in a second label, huge length fields) and
the carrier's ``read`` runs on the result. The only acceptable outcomes are
a :class:`~deepguard.CarrierRead` or a ``DeepguardError`` (one-line
message); any other exception, or a read that takes longer than the hang
limit, is a crash. Crashing inputs are saved under bench/out/fuzz-crashes.

Run:  .venv/bin/python bench/fuzz_labels.py [--seconds 300] [--carriers png,mp4]

Not part of CI: five minutes per carrier is over an hour for all of them.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from _common import REPO
from deepguard.config import Limits
from deepguard.errors import DeepguardError
from deepguard.labels.implicit import write_label
from deepguard.labels.implicit.registry import carrier_for
from deepguard.media.probe import probe
from labels import FIELDS, FORMATS

CRASH_DIR = REPO / "bench" / "out" / "fuzz-crashes"
HANG_SECONDS = 10
LIMITS = Limits(max_metadata_bytes=4 * 1024 * 1024, max_decode_s=HANG_SECONDS)
_BOUNDARY = [0x00, 0x01, 0x7F, 0x80, 0xFF]
_LENGTHS = [
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x00\x01",
]


_OPS = ["flip", "set", "len", "insert", "delete", "cut", "dup"]


class Hang(Exception):
    """A read that ran past the hang limit."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang(f"read took more than {HANG_SECONDS} s")


@dataclass
class Stats:
    executions: int = 0
    clean_errors: int = 0
    seconds: float = 0.0
    crashes: Counter[str] = field(default_factory=Counter)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        op = draw(
            st.sampled_from(["flip", "set", "len", "insert", "delete", "cut", "dup"])
        )
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from(_BOUNDARY))
        elif op == "len":
            data[pos : pos + 4] = draw(st.sampled_from(_LENGTHS))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "cut":
            del data[pos:]
        elif op == "dup":
            end = min(len(data), pos + draw(st.integers(1, 512)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def make_seed(fmt: str, root: Path) -> Path:
    suffix, make = FORMATS[fmt]
    base = root / f"base{suffix}"
    make(base)
    labelled = root / f"seed{suffix}"
    write_label(base, FIELDS, out=labelled)
    return labelled


def fuzz_carrier(fmt: str, seconds: float, root: Path) -> tuple[str, Stats]:
    seed_path = make_seed(fmt, root)
    carrier = carrier_for(probe(seed_path), seed_path)
    seed = seed_path.read_bytes()
    case = root / f"case{seed_path.suffix}"
    stats = Stats()

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(seed))
    def one(data: bytes) -> None:
        case.write_bytes(data)
        stats.executions += 1
        signal.alarm(HANG_SECONDS)
        try:
            carrier.read(case, LIMITS)
        except DeepguardError as exc:
            stats.clean_errors += 1
            if "\n" in str(exc):
                _record(stats, fmt, data, f"multi-line error: {exc!r}"[:200])
        except Hang as exc:
            _record(stats, fmt, data, f"hang: {exc}")
        except Exception as exc:  # the point of fuzzing: anything else is a bug
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            _record(stats, fmt, data, f"{type(exc).__name__} at {where}: {exc}"[:200])
        finally:
            signal.alarm(0)

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        one()
    stats.seconds = time.monotonic() - started
    return carrier.name, stats


def _record(stats: Stats, fmt: str, data: bytes, signature: str) -> None:
    if signature not in stats.crashes:
        CRASH_DIR.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:16]
        (CRASH_DIR / f"{fmt}-{digest}.bin").write_bytes(data)
    stats.crashes[signature] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="per carrier")
    parser.add_argument("--carriers", default=",".join(FORMATS), help="formats")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    console = Console()
    table = Table(title=f"Label reader fuzzing ({args.seconds:g} s per format)")
    for col in ("format", "carrier", "executions", "exec/s", "clean errors", "crashes"):
        table.add_column(
            col, justify="left" if col in ("format", "carrier") else "right"
        )
    details: list[str] = []
    for fmt in [f for f in args.carriers.split(",") if f in FORMATS]:
        with (
            tempfile.TemporaryDirectory(prefix="deepguard-fuzz-") as tmp,
            console.status(f"fuzzing {fmt}"),
        ):
            name, stats = fuzz_carrier(fmt, args.seconds, Path(tmp))
        crashes = sum(stats.crashes.values())
        table.add_row(
            fmt,
            name,
            f"{stats.executions:,}",
            f"{stats.executions / stats.seconds:,.0f}",
            f"{stats.clean_errors:,}",
            str(crashes),
        )
        details += [f"{fmt}: {n}× {sig}" for sig, n in stats.crashes.items()]
    console.print(table)
    for line in details:
        console.print(f"[red]crash[/] {line}")


if __name__ == "__main__":
    main()
