"""Invisible watermarks: deepguard against open-source peers, on images, video, audio.

What it measures. Every method marks the same corpus of natural and
generated images (``_wm_images``: scikit-image pictures, the shared photos,
crops and resizes from 256x256 to 1080p, generated pictures; ``--n``, default
200), each marked image goes through the same attacks (JPEG, WebP, resizes,
crops, rotations, colour changes, noise, blur, screenshot, overlay, mirror,
aspect change) with the same random offsets, and each method reads its
payload back. Per method and attack the table shows:

* bit accuracy: matching payload bits, averaged over images. deepguard's
  bits are the error-corrected payload when its code accepted the word, else
  the raw hard decisions it reports (``details["raw_bits"]``), else a coin
  (0.5); the peers' bits are their raw decoder output (they have no code);
* TPR: the share of images the method would call marked at a false-positive
  rate of 1e-6: deepguard by its own detector (``Detection.present``); the
  peers, which have no detector, when at least as many bits match as a fair
  coin reaches with probability <= 1e-6 (binomial tail, e.g. 51 of 64).

Quality is PSNR (RGB) and SSIM (luma) of the marked image against the
original; speed is embed and read time on one 1920x1080 photo, median of
``--repeats`` runs on one thread. Calibration (``_wm_calibrate``) runs every
reader on ``--calibration`` unmarked images and counts false positives and
the p-value tail. The audio and video sections come from ``_wm_audio`` and
``_wm_video`` when those modules exist.

The peers are invisible-watermark's dwtDct (the mark Stable Diffusion's
reference scripts embed), dwtDctSvd and rivaGan, through ``_wm_peers``.
rivaGan runs its ONNX networks on the whole frame and needs seconds per 1080p
image, so any method that reads 1080p slower than ``SLOW_READ_MS`` runs on one
corpus image in k (``--slow-images`` in all, the same seeded images every
run) and on the first ``--slow-calibration`` unmarked images; the tables show
its image count.

Run:  .venv/bin/python bench/watermark.py [--quick] [--n 200] [--calibration 10000]
      [--jobs 2] [--methods deepguard,dwtDct] [--skip calibration,audio,video]

Prints one table per section, the ratios against the peers, and writes
everything to bench/out/watermark.json.
"""

from __future__ import annotations

import os

# One thread per process, set before NumPy, OpenCV and ONNX Runtime load: the
# timings are single-thread numbers and the pool's two workers must not fight
# over cores with BLAS thread pools.
os.environ.update(
    dict.fromkeys(
        (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "NUMEXPR_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS",
        ),
        "1",
    )
)

import argparse
import dataclasses
import functools
import importlib
import json
import math
import multiprocessing
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import _wm_calibrate
import _wm_images as wi
from _common import REPO, cpu_model, timed
from deepguard import __version__
from deepguard.watermark.base import DEFAULT_FPR, Status
from deepguard.watermark.payload import CID_BITS, TAG_BITS, Payload

JSON_OUT = REPO / "bench" / "out" / "watermark.json"
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
DEEPGUARD = "deepguard"
SECTIONS = ("robustness", "speed", "calibration", "audio", "video")
SLOW_READ_MS = 1500.0
"""A method reading 1080p slower than this runs on a subset of the corpus."""


# -- methods --------------------------------------------------------------------


class DeepguardMethod:
    """deepguard's image mark through the public API, one payload per image.

    Why a different payload per image: a fixed one would let a decoder that
    is biased towards its own payload look better than it is; deepguard's
    payloads are drawn from the seed, so runs are comparable.
    """

    name = DEEPGUARD
    bits = TAG_BITS + CID_BITS
    has_detector = True

    def __init__(self, *, seed: int, fpr: float) -> None:
        from deepguard.watermark.image import ImageWatermarker

        self._wm = ImageWatermarker(fpr=fpr)
        self._seed = seed

    def payload(self, index: int) -> Payload:
        rng = np.random.default_rng([self._seed, index, 0x9A7])
        return Payload(
            producer_tag=int(rng.integers(0, 1 << TAG_BITS)),
            content_id=int(rng.integers(0, 1 << CID_BITS)),
        )

    def embed(self, rgb: wi.RGB, index: int) -> wi.RGB:
        return self._wm.embed(rgb, self.payload(index))

    def expected(self, index: int) -> wi.Bits:
        return self.payload(index).to_bits()

    def read(self, rgb: wi.RGB) -> wi.Reading:
        det = self._wm.detect(rgb)
        if det.status is Status.UNDETECTABLE:
            return wi.Reading(bits=None, present=False)
        if det.payload is not None:
            bits: wi.Bits | None = det.payload.to_bits()
        else:
            raw = det.details.get("raw_bits")
            ok = isinstance(raw, list | tuple) and len(raw) == self.bits
            bits = np.asarray(raw, dtype=np.uint8) if ok else None
        return wi.Reading(
            bits=bits,
            present=det.present,
            ecc_ok=det.payload is not None,
            p_value=det.p_value,
            score=det.score,
        )


class PeerMethod:
    """A ``_wm_peers`` adapter (fixed payload, no detector) seen as a Method."""

    has_detector = False

    def __init__(self, peer: Any) -> None:
        self._peer = peer
        self.name = str(peer.name)
        self.bits = int(peer.bits)
        self._payload = _peer_payload(peer, self.bits)

    def embed(self, rgb: wi.RGB, index: int) -> wi.RGB:
        return np.asarray(self._peer.embed(rgb), dtype=np.uint8)

    def expected(self, index: int) -> wi.Bits:
        return self._payload

    def read(self, rgb: wi.RGB) -> wi.Reading:
        bits = np.asarray(self._peer.decode(rgb), dtype=np.uint8).reshape(-1)
        return wi.Reading(bits=bits if bits.size == self.bits else None)


_PAYLOAD_ATTRS = ("payload", "payload_bits", "message")


def _peer_payload(peer: Any, bits: int) -> wi.Bits:
    """The fixed bit string a peer embeds."""
    for attr in _PAYLOAD_ATTRS:
        value = getattr(peer, attr, None)
        if value is None:
            continue
        array = np.asarray(value, dtype=np.uint8).reshape(-1)
        if array.size == bits:
            return array
    msg = (
        f"peer {peer.name} exposes no {bits}-bit payload ({', '.join(_PAYLOAD_ATTRS)})"
    )
    raise TypeError(msg)


def load_peers() -> tuple[list[Any], str | None]:
    """The peer adapters ``_wm_peers`` offers, or none and the reason why."""
    try:
        module = importlib.import_module("_wm_peers")
    except ImportError as exc:
        return [], f"peers unavailable: {exc}"
    for name in ("available_peers", "peers"):
        found = getattr(module, name, None)
        if callable(found):
            return list(found()), None
    listed = getattr(module, "PEERS", None)
    if listed is None:
        return [], "peers unavailable: _wm_peers has no PEERS or peers()"
    return [p() if isinstance(p, type) else p for p in listed], None


def build_methods(
    *, seed: int, fpr: float, names: Sequence[str] | None
) -> list[wi.Method]:
    """deepguard first, then every peer; in each worker process anew."""
    methods: list[wi.Method] = []
    if names is None or DEEPGUARD in names:
        methods.append(DeepguardMethod(seed=seed, fpr=fpr))
    peers, _ = load_peers()
    for peer in peers:
        if names is None or peer.name in names:
            methods.append(PeerMethod(peer))
    return methods


# -- robustness -------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """One method on one image: quality of the mark and every attack's reading."""

    embed_error: str | None = None
    psnr: float | None = None
    ssim: float | None = None
    accuracy: list[float] = field(default_factory=list)
    present: list[bool] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    wrong: list[bool] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    seconds: float = 0.0


_STATE: dict[str, Any] = {}


def _init_worker(
    factory: Callable[[], list[wi.Method]],
    samples: Sequence[wi.Sample],
    seed: int,
    fpr: float,
    strides: Mapping[str, int],
) -> None:
    cv2.setNumThreads(1)
    _STATE.update(
        methods=factory(), samples=samples, seed=seed, fpr=fpr, strides=strides
    )


def evaluate(
    method: wi.Method, rgb: wi.RGB, index: int, seed: int, fpr: float
) -> Outcome:
    """Mark one image, attack it every way, and read each result back."""
    outcome = Outcome()
    attacks = len(wi.ATTACKS)
    try:
        marked = method.embed(rgb, index)
    except Exception as exc:  # a method that cannot mark an image fails it
        outcome.embed_error = repr(exc)[:200]
        outcome.accuracy = [0.5] * attacks
        outcome.present = [False] * attacks
        outcome.exact = [False] * attacks
        outcome.wrong = [False] * attacks
        outcome.errors = [None] * attacks
        return outcome
    outcome.psnr = wi.psnr(rgb, marked)
    outcome.ssim = wi.ssim_luma(rgb, marked)
    expected = method.expected(index)
    for a, attack in enumerate(wi.ATTACKS):
        attacked = attack.run(marked, wi.attack_rng(seed, index, a))
        try:
            reading = method.read(attacked)
        except Exception as exc:
            reading = wi.Reading(bits=None, present=False)
            outcome.errors.append(repr(exc)[:200])
        else:
            outcome.errors.append(None)
        accuracy = wi.bit_accuracy(expected, reading.bits)
        present = wi.is_present(method, reading, index, fpr)
        outcome.accuracy.append(accuracy)
        outcome.present.append(present)
        outcome.exact.append(bool(reading.ecc_ok) and accuracy == 1.0)
        outcome.wrong.append(present and bool(reading.ecc_ok) and accuracy < 1.0)
    return outcome


def _evaluate_image(index: int) -> tuple[int, dict[str, Outcome]]:
    rgb = _STATE["samples"][index].rgb
    outcomes = {}
    for method in _STATE["methods"]:
        if index % _STATE["strides"].get(method.name, 1):
            continue
        started = time.perf_counter()
        outcome = evaluate(method, rgb, index, _STATE["seed"], _STATE["fpr"])
        outcome.seconds = time.perf_counter() - started
        outcomes[method.name] = outcome
    return index, outcomes


def per_image(
    samples: Sequence[wi.Sample], outcomes: dict[int, dict[str, Outcome]]
) -> list[dict[str, Any]]:
    """Per image and method: quality and the attacks it did not survive.

    Why keep this: a mean hides which pictures a method fails on (flat, tiny,
    saturated), and that is what its author needs to see next.
    """
    records = []
    for index, sample in enumerate(samples):
        record: dict[str, Any] = {"image": sample.name}
        for name, o in outcomes.get(index, {}).items():
            record[name] = {
                "embed_error": o.embed_error,
                "psnr": None if o.psnr is None else round(min(o.psnr, 100.0), 2),
                "ssim": None if o.ssim is None else round(o.ssim, 5),
                "missed": [
                    a.name
                    for a, hit in zip(wi.ATTACKS, o.present, strict=True)
                    if not hit
                ],
                "read_errors": sorted({e for e in o.errors if e}),
            }
        records.append(record)
    return records


def _capped_mean(values: Sequence[float]) -> float | None:
    """Mean PSNR with each value capped at 100 dB: an untouched image is inf."""
    capped = [min(v, 100.0) for v in values if not math.isnan(v)]
    return statistics.fmean(capped) if capped else None


def summarise(
    outcomes: dict[int, dict[str, Outcome]], methods: Sequence[wi.Method], fpr: float
) -> dict[str, Any]:
    """Per method: quality, and per attack the means over images."""
    summary: dict[str, Any] = {}
    for method in methods:
        rows = [per[method.name] for per in outcomes.values() if method.name in per]
        if not rows:
            continue
        marked = [o for o in rows if o.embed_error is None]
        psnrs = [o.psnr for o in marked if o.psnr is not None]
        ssims = [o.ssim for o in marked if o.ssim is not None]
        attacks: dict[str, Any] = {}
        for a, attack in enumerate(wi.ATTACKS):
            attacks[attack.name] = {
                "bit_accuracy": statistics.fmean(o.accuracy[a] for o in rows),
                "tpr": statistics.fmean(float(o.present[a]) for o in rows),
                "payload_exact": (
                    statistics.fmean(float(o.exact[a]) for o in rows)
                    if method.has_detector
                    else None
                ),
                "wrong_payloads": sum(o.wrong[a] for o in rows),
                "read_errors": sum(o.errors[a] is not None for o in rows),
            }
        first_error = next(
            (e for o in rows for e in [o.embed_error, *o.errors] if e), None
        )
        summary[method.name] = {
            "bits": method.bits,
            "has_detector": method.has_detector,
            "rule": wi.decision_rule(
                method.has_detector, method.bits, fpr, prefix="detector "
            ),
            "images": len(rows),
            "embed_failures": len(rows) - len(marked),
            "psnr_mean": _capped_mean(psnrs),
            "psnr_min": min(psnrs) if psnrs else None,
            "ssim_mean": statistics.fmean(ssims) if ssims else None,
            "ssim_min": min(ssims) if ssims else None,
            "mean_bit_accuracy": statistics.fmean(
                v["bit_accuracy"] for v in attacks.values()
            ),
            "mean_tpr": statistics.fmean(v["tpr"] for v in attacks.values()),
            "attacks": attacks,
            "first_error": first_error,
            "wrong_payloads": sum(v["wrong_payloads"] for v in attacks.values()),
            "seconds": sum(o.seconds for o in rows),
        }
    return summary


class Ticker:
    """Progress for a long phase: a live bar on a terminal, else a line per 10 %."""

    def __init__(self, console: Console, label: str, total: int) -> None:
        self._console = console
        self._label = label
        self._total = max(total, 1)
        self._started = time.perf_counter()
        self._printed = 0
        self._progress: Progress | None = None
        if console.is_terminal:
            self._progress = Progress(console=console, transient=True)
            self._task = self._progress.add_task(label, total=total)
            self._progress.start()

    def update(self, done: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done)
            return
        tenth = 10 * done // self._total
        if tenth > self._printed:
            self._printed = tenth
            elapsed = time.perf_counter() - self._started
            self._console.print(
                f"  {self._label}: {done}/{self._total} after {elapsed:.0f} s"
            )

    def close(self) -> float:
        """Stop, and the seconds since the start."""
        if self._progress is not None:
            self._progress.stop()
        return time.perf_counter() - self._started


def run_robustness(
    samples: Sequence[wi.Sample],
    factory: Callable[[], list[wi.Method]],
    *,
    seed: int,
    fpr: float,
    jobs: int,
    strides: Mapping[str, int],
    console: Console,
) -> tuple[dict[int, dict[str, Outcome]], float]:
    """Every method on every image (every ``strides[name]``-th for slow ones)."""
    outcomes: dict[int, dict[str, Outcome]] = {}
    ticker = Ticker(console, "robustness", len(samples))
    context = multiprocessing.get_context("fork")
    initargs = (factory, samples, seed, fpr, strides)
    try:
        with context.Pool(jobs, initializer=_init_worker, initargs=initargs) as pool:
            results = pool.imap_unordered(_evaluate_image, range(len(samples)))
            for done, (index, per) in enumerate(results, 1):
                outcomes[index] = per
                ticker.update(done)
    finally:
        wall = ticker.close()
    return outcomes, wall


# -- speed ------------------------------------------------------------------------


def _discard(call: Callable[..., object], *args: object) -> Callable[[], None]:
    """``call(*args)`` as the no-result thunk :func:`timed` takes."""

    def run() -> None:
        call(*args)

    return run


def measure_speed(
    methods: Sequence[wi.Method], rgb: wi.RGB, repeats: int
) -> dict[str, dict[str, Any]]:
    """Embed and read milliseconds on one 1080p image, one thread, in this process.

    Reads are timed on the marked image and on the unmarked original: a
    detector that stops at the first confident hit is fast on marked images
    and slowest on unmarked ones, which are most of what a platform scans.
    """
    cv2.setNumThreads(1)
    speed: dict[str, dict[str, Any]] = {}
    for method in methods:
        try:
            marked = method.embed(rgb, 0)
            embed = timed(method.name, 1, _discard(method.embed, rgb, 0), repeats)
            read = timed(method.name, 1, _discard(method.read, marked), repeats)
            unmarked = timed(method.name, 1, _discard(method.read, rgb), repeats)
            reading = method.read(marked)
        except Exception as exc:  # reported in the table, the run goes on
            speed[method.name] = {"error": repr(exc)[:200]}
            continue
        speed[method.name] = {
            "embed_ms": 1000 * embed.median,
            "read_ms": 1000 * read.median,
            "read_unmarked_ms": 1000 * unmarked.median,
            "embed_runs_ms": [1000 * s for s in embed.seconds],
            "read_runs_ms": [1000 * s for s in read.seconds],
            "bit_accuracy": wi.bit_accuracy(method.expected(0), reading.bits),
        }
    return speed


# -- audio and video sections ---------------------------------------------------------


@dataclass(slots=True)
class Section:
    """Rows another benchmark module produced, its ratio lines, or why it has none."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    ratios: list[str] = field(default_factory=list)
    note: str | None = None
    wall_s: float = 0.0


def section(module: str, function: str, quick: bool) -> Section:
    """Run ``module.function(quick)`` (and its ``ratio_lines``, if it has one).

    Why so forgiving: the audio and video benchmarks are other modules that
    may not exist yet or may fail; their absence or failure is reported as a
    note and must not cost the image results.
    """
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        return Section(note=f"{module}.py not importable yet ({exc}); section skipped")
    rows_of = getattr(loaded, function, None)
    if not callable(rows_of):
        return Section(note=f"{module}.py has no {function}(); section skipped")
    started = time.perf_counter()
    try:
        rows = list(rows_of(quick))
        ratios_of = getattr(loaded, "ratio_lines", None)
        ratios = list(ratios_of(rows)) if callable(ratios_of) else []
    except Exception as exc:  # another section's failure must not sink this run
        return Section(note=f"{module}.{function} failed: {exc!r}"[:300])
    return Section(rows, ratios, None, time.perf_counter() - started)


# -- printing ---------------------------------------------------------------------


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else format(value, spec)
    return str(value)


def robustness_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Image watermark robustness: bit accuracy / TPR at FPR 1e-6")
    table.add_column("attack")
    most = max((s["images"] for s in summary.values()), default=0)
    for name, s in summary.items():
        label = name if s["images"] == most else f"{name} ({s['images']} img)"
        table.add_column(f"{label}\nacc", justify="right")
        table.add_column(f"{name}\nTPR", justify="right")
        if s["has_detector"]:
            table.add_column(f"{name}\npayload", justify="right")
    for attack in wi.ATTACKS:
        row = [attack.name]
        for s in summary.values():
            cell = s["attacks"][attack.name]
            row += [_fmt(cell["bit_accuracy"]), f"{cell['tpr']:.0%}"]
            if s["has_detector"]:
                row.append(f"{cell['payload_exact']:.0%}")
        table.add_row(*row)
    row = ["mean over attacks"]
    for s in summary.values():
        row += [_fmt(s["mean_bit_accuracy"]), f"{s['mean_tpr']:.0%}"]
        if s["has_detector"]:
            exact = statistics.fmean(v["payload_exact"] for v in s["attacks"].values())
            row.append(f"{exact:.0%}")
    table.add_row(*row, style="bold")
    return table


def quality_table(
    summary: dict[str, Any], speed: dict[str, Any], methods: Sequence[wi.Method]
) -> Table:
    table = Table(title="Image watermark quality and speed (1920x1080, one thread)")
    for header in (
        "method",
        "bits",
        "TPR rule",
        "images",
        "embed failed",
        "PSNR dB mean (min)",
        "SSIM mean (min)",
        "embed ms",
        "read ms",
        "read unmarked ms",
        "embed vs deepguard",
        "read vs deepguard",
    ):
        left = header in ("method", "TPR rule")
        table.add_column(header, justify="left" if left else "right")
    base = speed.get(DEEPGUARD, {})
    for method in methods:
        s = summary.get(method.name, {})
        sp = speed.get(method.name, {})
        table.add_row(
            method.name,
            str(method.bits),
            s.get("rule", "n/a"),
            _fmt(s.get("images")),
            _fmt(s.get("embed_failures")),
            f"{_fmt(s.get('psnr_mean'), '.1f')} ({_fmt(s.get('psnr_min'), '.1f')})",
            f"{_fmt(s.get('ssim_mean'), '.4f')} ({_fmt(s.get('ssim_min'), '.4f')})",
            _fmt(sp.get("embed_ms"), ".0f"),
            _fmt(sp.get("read_ms"), ".0f"),
            _fmt(sp.get("read_unmarked_ms"), ".0f"),
            _ratio(sp.get("embed_ms"), base.get("embed_ms")),
            _ratio(sp.get("read_ms"), base.get("read_ms")),
        )
    return table


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base <= 0:
        return "n/a"
    return f"{value / base:.1f}x"


def calibration_table(calibration: dict[str, Any]) -> Table:
    """Counts per method; each tail cell is "found / at most expected" (n x p)."""
    levels = list(next(iter(calibration["methods"].values()))["tail"])
    table = Table(
        title="False-positive calibration on unmarked images "
        f"(seed {calibration['seed']}); tail cells: found / n x p",
        caption="max score: deepguard's z, the peers' most matching bits",
    )
    headers = ["method", "images", "undet.", "errors", "threshold", "FP"]
    headers += ["max score", "min p"] + [f"p<={lv}" for lv in levels]
    for header in headers:
        table.add_column(header, justify="left" if header == "method" else "right")
    for name, m in calibration["methods"].items():
        tail = [f"{m['tail'][lv]} / {m['expected_at_most'][lv]:.2g}" for lv in levels]
        score = m["max_score"]
        table.add_row(
            name,
            str(m["images"]),
            str(m["undetectable"]),
            str(m["errors"]),
            m["threshold"],
            str(m["false_positives"]),
            "n/a" if score is None else f"{score:.4g}",
            f"{m['min_p_value']:.2g}",
            *tail,
        )
    return table


def rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """Another module's rows (dicts) as a table, columns in first-seen order."""
    table = Table(title=title)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*["" if row.get(c) is None else _fmt(row[c]) for c in columns])
    return table


def paired(
    outcomes: dict[int, dict[str, Outcome]],
    methods: Sequence[wi.Method],
    fpr: float,
) -> dict[str, Any]:
    """deepguard's summary on exactly the images each peer ran on.

    Why: a slow peer runs on a subset of the corpus, and comparing its means
    with deepguard's over all images would compare different pictures.
    """
    ours = [m for m in methods if m.name == DEEPGUARD]
    result: dict[str, Any] = {}
    for method in methods:
        if method.name == DEEPGUARD or not ours:
            continue
        shared = {i: per for i, per in outcomes.items() if method.name in per}
        result[method.name] = summarise(shared, ours, fpr).get(DEEPGUARD)
    return result


def ratio_lines(
    summary: dict[str, Any],
    speed: dict[str, Any],
    same_images: Mapping[str, Any] | None = None,
) -> list[str]:
    """One line per peer and figure: the peer's number, deepguard's, the ratio.

    Robustness and quality compare deepguard on the images the peer ran on
    (``same_images``, from :func:`paired`) when given.
    """
    dg_speed = speed.get(DEEPGUARD, {})
    peers = dict.fromkeys(n for n in [*summary, *speed] if n != DEEPGUARD)
    lines: list[str] = []
    for name in peers:
        s = summary.get(name)
        dg = (same_images or {}).get(name) or summary.get(DEEPGUARD)
        if s is not None and dg is not None:
            lines += _robustness_ratios(name, s, dg)
        sp = speed.get(name, {})
        for key, label in (
            ("embed_ms", "embed"),
            ("read_ms", "read"),
            ("read_unmarked_ms", "read (unmarked)"),
        ):
            if key in sp and key in dg_speed:
                lines.append(
                    f"{name} {label} {sp[key]:.0f} ms vs deepguard "
                    f"{dg_speed[key]:.0f} ms: {_ratio(sp[key], dg_speed[key])}"
                )
    return lines


def _robustness_ratios(name: str, s: dict[str, Any], dg: dict[str, Any]) -> list[str]:
    """TPR, bit accuracy and quality of one peer against deepguard's."""
    attacks = dg["attacks"]
    wins = sum(attacks[a]["tpr"] > s["attacks"][a]["tpr"] for a in attacks)
    losses = sum(attacks[a]["tpr"] < s["attacks"][a]["tpr"] for a in attacks)
    lines = [
        f"{name}: mean TPR over attacks {s['mean_tpr']:.2f} vs deepguard "
        f"{dg['mean_tpr']:.2f} ({_ratio(dg['mean_tpr'], s['mean_tpr'] or None)} "
        f"for deepguard); mean bit accuracy {s['mean_bit_accuracy']:.3f} vs "
        f"{dg['mean_bit_accuracy']:.3f}; deepguard's TPR higher on {wins}, lower "
        f"on {losses} of {len(attacks)} attacks (the same {s['images']} images)"
    ]
    if s["psnr_mean"] is not None and dg["psnr_mean"] is not None:
        lines.append(
            f"{name} PSNR {s['psnr_mean']:.1f} dB vs deepguard "
            f"{dg['psnr_mean']:.1f} dB; SSIM {s['ssim_mean']:.4f} vs "
            f"{dg['ssim_mean']:.4f}"
        )
    return lines


# -- main ---------------------------------------------------------------------


def _dataset_facts(
    samples: Sequence[wi.Sample], sources: Sequence[wi.Source], skipped: dict[str, str]
) -> dict[str, Any]:
    kinds = Counter(s.name.split(":")[0].split("#")[0] for s in samples)
    sizes = Counter(f"{w}x{h}" for w, h in (s.size for s in samples))
    return {
        "images": len(samples),
        "sources": len(sources),
        "by_origin": dict(kinds),
        "by_size": dict(sizes.most_common()),
        "skipped_sources": skipped,
        "names": [s.name for s in samples],
    }


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run does, from the command line."""

    quick: bool
    n: int
    calibration: int
    peer_calibration: int
    slow_images: int
    slow_calibration: int
    seed: int
    jobs: int
    repeats: int
    names: tuple[str, ...] | None
    skip: frozenset[str]
    out: Path


def _positive(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        msg = f"must be at least 1, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def parse_args(argv: Sequence[str] | None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="30 images, 500 calibration images"
    )
    parser.add_argument(
        "--n", type=_positive, help="corpus images (default 200, quick 30)"
    )
    parser.add_argument(
        "--calibration",
        type=_positive,
        help="unmarked images (default 10000, quick 500)",
    )
    parser.add_argument(
        "--peer-calibration",
        type=_positive,
        help="unmarked images for each peer (default 1000, quick 100)",
    )
    parser.add_argument(
        "--slow-images",
        type=_positive,
        help=f"corpus images for methods reading 1080p slower than {SLOW_READ_MS} ms "
        "(default 50, quick 6)",
    )
    parser.add_argument(
        "--slow-calibration",
        type=_positive,
        help="unmarked images for those slow methods (default 200, quick 40)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=_positive, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--repeats", type=_positive, default=5, help="timed runs (>= 5)"
    )
    parser.add_argument(
        "--methods", help="comma-separated subset, e.g. deepguard,dwtDct"
    )
    parser.add_argument(
        "--skip", default="", help=f"sections to skip: {','.join(SECTIONS)}"
    )
    parser.add_argument("--out", type=Path, default=JSON_OUT)
    args = parser.parse_args(argv)
    skip = frozenset(s for s in args.skip.split(",") if s)
    if skip - set(SECTIONS):
        parser.error(
            f"unknown sections {sorted(skip - set(SECTIONS))}; choose from {SECTIONS}"
        )
    quick = bool(args.quick)
    return Plan(
        quick=quick,
        n=args.n or (30 if quick else 200),
        calibration=args.calibration or (500 if quick else 10_000),
        peer_calibration=args.peer_calibration or (100 if quick else 1_000),
        slow_images=args.slow_images or (6 if quick else 50),
        slow_calibration=args.slow_calibration or (40 if quick else 200),
        seed=args.seed,
        jobs=max(1, args.jobs),
        repeats=max(5, args.repeats),
        names=tuple(args.methods.split(",")) if args.methods else None,
        skip=skip,
        out=args.out,
    )


def _session_threads(method: wi.Method) -> list[int]:
    """intra-op thread settings of any onnxruntime session a peer holds (0: all)."""
    peer = getattr(method, "_peer", None)
    found = []
    for value in vars(peer).values() if peer is not None else ():
        options = getattr(value, "get_session_options", None)
        if callable(options):
            found.append(int(options().intra_op_num_threads))
    return found


def _notes(
    plan: Plan,
    methods: Sequence[wi.Method],
    result: dict[str, Any],
    strides: Mapping[str, int],
    fpr: float,
) -> list[str]:
    """What a reader needs to trust the tables: machine, corpus, rules, caveats."""
    origins = ", ".join(f"{k} {v}" for k, v in result["dataset"]["by_origin"].items())
    notes = [
        f"Machine: {os.cpu_count()} cores, {cpu_model()}; Python "
        f"{platform.python_version()}; deepguard {__version__}; "
        f"OpenCV {cv2.__version__}.",
        f"Corpus: {result['dataset']['images']} images from "
        f"{result['dataset']['sources']} sources ({origins}); seed {plan.seed}; "
        f"{plan.jobs} worker processes, one thread each.",
        "TPR: deepguard by its own detector (p <= 1e-6, search accounted for); the "
        "peers have no detector, so an image counts as marked when its matching "
        "bits reach the binomial-tail threshold for FPR <= 1e-6 under a fair coin"
        + "".join(
            f"; >= {wi.binomial_threshold(m.bits, fpr)}/{m.bits} bits for {m.name}"
            for m in methods
            if not m.has_detector
        )
        + ".",
        "deepguard bit accuracy: error-corrected payload bits when the code "
        "accepted the word, else its raw hard bits (details['raw_bits']), else 0.5; "
        "'payload' = share of images whose whole 64-bit payload came back exactly. "
        "Peer bit accuracy: raw decoder bits, 0.5 when embedding or decoding failed.",
        wi.ATTACK_NOTES,
        f"Speed: one 1920x1080 photo, median of {plan.repeats} runs after a "
        "warm-up, in the main process (OMP/OPENBLAS/MKL threads 1, "
        "cv2.setNumThreads(1)); 'read' is deepguard's detect, the peers' decode, "
        "on the marked photo; 'read unmarked' the same on the original.",
    ]
    for name, stride in strides.items():
        notes.append(
            f"{name} reads 1080p slower than {SLOW_READ_MS:.0f} ms, so it ran on one "
            f"corpus image in {stride} ({plan.slow_images} at most) and on the first "
            f"{plan.slow_calibration} calibration images."
        )
    for name, s in result.get("robustness", {}).get("methods", {}).items():
        if s["wrong_payloads"]:
            notes.append(
                f"{name} reported a present mark with a WRONG payload "
                f"{s['wrong_payloads']} times (see robustness.methods.{name})."
            )
    for method in methods:
        threads = _session_threads(method)
        if threads and any(t != 1 for t in threads):
            notes.append(
                f"{method.name} runs onnxruntime sessions with intra-op threads "
                f"{threads} (0 = one per core), not one: its times are not "
                "single-thread and flatter it."
            )
    return notes


def _header(
    plan: Plan,
    methods: Sequence[wi.Method],
    samples: Sequence[wi.Sample],
    sources: Sequence[wi.Source],
    skipped: dict[str, str],
    fpr: float,
) -> dict[str, Any]:
    return {
        "benchmark": "watermark",
        "deepguard": __version__,
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        "plan": {
            "quick": plan.quick,
            "n": plan.n,
            "calibration": plan.calibration,
            "peer_calibration": plan.peer_calibration,
            "slow_images": plan.slow_images,
            "slow_calibration": plan.slow_calibration,
            "seed": plan.seed,
            "jobs": plan.jobs,
            "repeats": plan.repeats,
            "fpr": fpr,
        },
        "methods": [m.name for m in methods],
        "dataset": _dataset_facts(samples, sources, skipped),
        "attacks": [a.name for a in wi.ATTACKS],
    }


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_args(argv)
    fpr = DEFAULT_FPR
    cv2.setNumThreads(1)
    # Piped output keeps whole tables instead of squeezing them into 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    notes: list[str] = []
    shared = SHARED_DATA if SHARED_DATA.is_dir() else None
    if shared is None:
        notes.append("../shared/data is absent: scikit-image and generated only")
    with console.status("loading sources"):
        sources, skipped = wi.load_sources(shared)
    with console.status(f"building {plan.n} images"):
        samples = wi.build_dataset(plan.n, plan.seed, sources)
    factory = functools.partial(
        build_methods, seed=plan.seed, fpr=fpr, names=plan.names
    )
    methods = factory()
    unknown = sorted(set(plan.names or ()) - {m.name for m in methods})
    if unknown or not methods:
        known = ", ".join(m.name for m in build_methods(seed=0, fpr=fpr, names=None))
        console.print(f"error: --methods: unknown {unknown}; choose from {known}")
        return 2
    _, peer_note = load_peers()
    if peer_note:
        notes.append(peer_note)
    result = _header(plan, methods, samples, sources, skipped, fpr)

    # Speed first: it tells which methods are too slow for the whole corpus.
    speed: dict[str, Any] = {}
    if "speed" not in plan.skip:
        with console.status("timing at 1080p"):
            full_hd = wi.full_hd(sources, plan.seed)
            speed = measure_speed(methods, full_hd, plan.repeats)
        result["speed"] = speed
    slow = [n for n, sp in speed.items() if sp.get("read_ms", 0.0) > SLOW_READ_MS]
    strides = {name: max(1, math.ceil(plan.n / plan.slow_images)) for name in slow}

    summary: dict[str, Any] = {}
    same_images: dict[str, Any] = {}
    if "robustness" not in plan.skip:
        outcomes, wall = run_robustness(
            samples,
            factory,
            seed=plan.seed,
            fpr=fpr,
            jobs=plan.jobs,
            strides=strides,
            console=console,
        )
        summary = summarise(outcomes, methods, fpr)
        same_images = paired(outcomes, methods, fpr)
        result["robustness"] = {
            "wall_s": wall,
            "strides": strides,
            "methods": summary,
            "deepguard_on_peer_images": same_images,
            "images": per_image(samples, outcomes),
        }
        spent = ", ".join(f"{k} {v['seconds']:.0f} s" for k, v in summary.items())
        console.print(
            f"robustness: {len(samples)} images in {wall:.0f} s (worker time: {spent})"
        )
        console.print(robustness_table(summary))
    if summary or speed:
        console.print(quality_table(summary, speed, methods))
    ratios = ratio_lines(summary, speed, same_images)
    result["ratios"] = ratios
    for line in ratios:
        console.print(f"  {line}")

    if "calibration" not in plan.skip:
        limits = {m.name: plan.peer_calibration for m in methods if not m.has_detector}
        limits.update({name: plan.slow_calibration for name in slow})
        ticker = Ticker(console, "calibration", plan.calibration)
        try:
            calibration = _wm_calibrate.calibrate(
                factory,
                sources,
                n=plan.calibration,
                seed=plan.seed + 1,
                jobs=plan.jobs,
                limits=limits,
                fpr=fpr,
                on_done=ticker.update,
            )
        finally:
            ticker.close()
        result["calibration"] = calibration
        console.print(
            f"calibration: {plan.calibration} images in {calibration['wall_s']:.0f} s"
        )
        console.print(calibration_table(calibration))

    for name, module, function, title in (
        ("audio", "_wm_audio", "audio_rows", "Audio watermark"),
        ("video", "_wm_video", "video_rows", "Video watermark"),
    ):
        if name in plan.skip:
            continue
        with console.status(f"{name} section"):
            found = section(module, function, plan.quick)
        result[name] = dataclasses.asdict(found)
        if found.note:
            notes.append(found.note)
        if found.rows:
            console.print(rows_table(title, found.rows))
        for line in found.ratios:
            console.print(f"  {line}", highlight=False)

    if "robustness" in result or "speed" in result or "calibration" in result:
        notes += _notes(plan, methods, result, strides, fpr)
    result["notes"] = notes
    for note in notes:
        console.print(f"- {note}", highlight=False)
    plan.out.parent.mkdir(parents=True, exist_ok=True)
    plan.out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    console.print(f"written {plan.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
