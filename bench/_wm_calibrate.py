"""False-positive calibration: every detector on thousands of unmarked images.

Why measure what is computed: deepguard's detector derives its p-value from
a model of the correlation surface and pays for every shift, mirror and
geometry it tries. If the model is wrong (content that repeats with the tile's
period, JPEG's 8x8 grid, upscaled pictures whose residual is not white), the
real false-positive rate is higher than the threshold says, and a platform
that flags one upload in a million wrongly is flagging one in a thousand. The
only honest check is many unmarked images, counted: how many cross the
threshold, and whether the tail (p <= 1e-3, 1e-4 ...) holds as many as it
should (at most n x p) and no more.

The unmarked images are crops and resizes of the corpus sources and generated
pictures, 128 px up to 1080p (most 128-640 px, which keeps 10,000 detections
to minutes on two cores), each through one everyday transform: none, JPEG or
WebP at a random quality, blur, noise, mirror, a small rotation or a
brightness change. Everything follows from the seed.

Peers have no detector; their "p-value" is the binomial tail of the bits that
happen to match their payload, the rule the robustness table applies to them,
so the same tail table checks their rule too. A method can be limited to the
first few images (``limits``): the peers are slow, rivaGan very much so.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

import _wm_images as wi

TAIL = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
"""p-value levels the tail table counts."""

Transform = tuple[str, wi.Attack]


def _transform(rng: np.random.Generator) -> Transform:
    """One everyday transform, drawn at random."""
    roll = float(rng.random())
    if roll < 0.35:
        return "none", wi.identity
    if roll < 0.60:
        q = int(rng.integers(30, 96))
        return f"jpeg q{q}", wi.jpeg(q)
    if roll < 0.68:
        q = int(rng.integers(40, 91))
        return f"webp q{q}", wi.webp(q)
    if roll < 0.76:
        sigma = round(float(rng.uniform(0.5, 2.0)), 2)
        return f"blur σ{sigma}", wi.blur(sigma)
    if roll < 0.84:
        sigma = round(float(rng.uniform(2.0, 10.0)), 1)
        return f"noise σ{sigma}", wi.gaussian_noise(sigma)
    if roll < 0.90:
        return "mirror", wi.mirror
    if roll < 0.95:
        degrees = round(float(rng.uniform(-5.0, 5.0)), 1)
        return f"rotate {degrees}°", wi.rotate(degrees)
    factor = round(float(rng.uniform(0.7, 1.3)), 2)
    return f"brightness x{factor}", wi.brightness(factor)


def _size(rng: np.random.Generator) -> tuple[int, int]:
    """Width and height: mostly 128-640 px on the short side, some up to 1080p."""
    short = int(
        rng.integers(128, 641) if rng.random() < 0.85 else rng.integers(641, 1081)
    )
    aspect = float(rng.choice([1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16]))
    if aspect >= 1.0:
        width, height = min(1920, round(short * aspect)), short
    else:
        width, height = short, min(1920, round(short / aspect))
    return width, height


def variant(index: int, seed: int, sources: Sequence[wi.Source]) -> tuple[str, wi.RGB]:
    """The ``index``-th unmarked calibration image and a name saying how it was made."""
    rng = np.random.default_rng([seed, index, 0xCA1])
    size = _size(rng)
    rgb: wi.RGB | None = None
    name = ""
    if sources and rng.random() < 0.75:
        start = int(rng.integers(0, len(sources)))
        for step in range(len(sources)):
            source = sources[(start + step) % len(sources)]
            rgb = wi.crop_to(source.rgb, size, rng)
            if rgb is not None:
                name = source.name
                break
    if rgb is None:
        rgb = wi.generated_image(size, seed * 7_919 + index)
        name = "generated"
    label, run = _transform(rng)
    out = run(rgb, rng)
    return f"{name}@{out.shape[1]}x{out.shape[0]}/{label}", out


@dataclass(slots=True)
class _Tally:
    """Counts for one method over the calibration images it saw."""

    bits: int
    has_detector: bool
    images: int = 0
    undetectable: int = 0
    errors: int = 0
    false_positives: int = 0
    max_score: float = -math.inf
    min_p_value: float = 1.0
    tail: Counter[float] = field(default_factory=Counter)
    seconds: float = 0.0
    worst: list[tuple[float, str]] = field(default_factory=list)
    first_error: str | None = None

    def add(self, hit: _Hit) -> None:
        self.images += 1
        self.seconds += hit.seconds
        if hit.error:
            self.errors += 1
            self.first_error = self.first_error or f"{hit.name}: {hit.error}"
            return
        if hit.p_value is None:
            self.undetectable += 1
            return
        self.false_positives += int(hit.present)
        self.max_score = max(self.max_score, hit.score)
        self.min_p_value = min(self.min_p_value, hit.p_value)
        for level in TAIL:
            if hit.p_value <= level:
                self.tail[level] += 1
        self.worst = sorted([*self.worst, (hit.p_value, hit.name)])[:5]

    def to_dict(self, fpr: float) -> dict[str, Any]:
        measured = self.images - self.undetectable - self.errors
        return {
            "images": self.images,
            "measured": measured,
            "undetectable": self.undetectable,
            "errors": self.errors,
            "has_detector": self.has_detector,
            "bits": self.bits,
            "threshold": wi.decision_rule(self.has_detector, self.bits, fpr),
            "false_positives": self.false_positives,
            "max_score": None if measured == 0 else self.max_score,
            "min_p_value": self.min_p_value,
            "tail": {f"{level:g}": self.tail[level] for level in TAIL},
            "expected_at_most": {f"{level:g}": measured * level for level in TAIL},
            "ms_per_image": 1000 * self.seconds / max(self.images, 1),
            "lowest_p": [{"p_value": p, "image": n} for p, n in self.worst],
            "first_error": self.first_error,
        }


@dataclass(frozen=True, slots=True)
class _Hit:
    method: str
    bits: int
    has_detector: bool
    name: str
    present: bool
    p_value: float | None  # None: undetectable
    score: float
    seconds: float
    error: str | None = None


_WORKER: dict[str, Any] = {}


def _init(
    factory: Callable[[], list[wi.Method]],
    sources: Sequence[wi.Source],
    seed: int,
    limits: Mapping[str, int],
    fpr: float,
) -> None:
    cv2.setNumThreads(1)
    _WORKER.update(
        methods=factory(), sources=sources, seed=seed, limits=limits, fpr=fpr
    )


def _measure(method: wi.Method, name: str, rgb: wi.RGB, fpr: float) -> _Hit:
    hit = functools.partial(_Hit, method.name, method.bits, method.has_detector, name)
    started = time.perf_counter()
    try:
        reading = method.read(rgb)
    except Exception as exc:  # a peer that chokes on an image is a finding
        seconds = time.perf_counter() - started
        return hit(False, None, 0.0, seconds, repr(exc)[:200])
    seconds = time.perf_counter() - started
    if method.has_detector:
        if reading.p_value is None or reading.present is None:
            return hit(False, None, 0.0, seconds)  # undetectable
        score = reading.score if reading.score is not None else 0.0
        return hit(reading.present, reading.p_value, score, seconds)
    if reading.bits is None:
        return hit(False, None, 0.0, seconds)
    expected = method.expected(0)
    matches = int(np.sum(np.asarray(reading.bits, np.uint8) == expected))
    p_value = wi.binomial_tail(len(expected), matches)
    present = matches >= wi.binomial_threshold(len(expected), fpr)
    return hit(present, p_value, float(matches), seconds)


def _run(index: int) -> list[_Hit]:
    name, rgb = variant(index, _WORKER["seed"], _WORKER["sources"])
    hits = []
    for method in _WORKER["methods"]:
        if index >= _WORKER["limits"].get(method.name, index + 1):
            continue
        hits.append(_measure(method, name, rgb, _WORKER["fpr"]))
    return hits


def calibrate(
    factory: Callable[[], list[wi.Method]],
    sources: Sequence[wi.Source],
    *,
    n: int,
    seed: int,
    jobs: int,
    limits: Mapping[str, int],
    fpr: float,
    on_done: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run every method's reader on ``n`` unmarked images.

    ``limits`` caps a method at its first so many images (methods not named
    see all ``n``).

    ``factory`` builds the methods inside each worker process (detector
    sessions and caches do not survive a fork), and ``on_done`` is told after
    every image, for a progress bar.
    """
    tallies: dict[str, _Tally] = {}
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(
        jobs, initializer=_init, initargs=(factory, sources, seed, limits, fpr)
    ) as pool:
        for done, hits in enumerate(pool.imap_unordered(_run, range(n), 8), 1):
            for hit in hits:
                if hit.method not in tallies:
                    tallies[hit.method] = _Tally(hit.bits, hit.has_detector)
                tallies[hit.method].add(hit)
            if on_done is not None:
                on_done(done)
    return {
        "images": n,
        "limits": dict(limits),
        "seed": seed,
        "fpr": fpr,
        "wall_s": time.perf_counter() - started,
        "jobs": jobs,
        "methods": {name: t.to_dict(fpr) for name, t in tallies.items()},
    }
