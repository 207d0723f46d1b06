"""Rhythm-cue detection: recall, false hits, timing and speed against a naive peer.

What it measures: the cue ("short long short short", 1 kHz, 100 ms units) is
mixed into real speech (LibriSpeech test-other, from ../shared/data) and into
synthetic music (chords of harmonic-rich notes) at a level relative to the
programme (cue tones' RMS against the programme's RMS: 0 dB and -6 dB), encoded
with a delivery codec (WAV at 16 kHz and resampled to 8 kHz, MP3 64 kbit/s at
44.1 kHz, AAC 64 kbit/s in M4A at 44.1 kHz, Opus 32 kbit/s at 48 kHz), decoded
back to 16 kHz mono, and searched. Each cell is ``--renders`` mixes at random
positions in different programmes; the clean programmes go through the same
codecs to count false hits.

The peer is the detector one writes first: the cue frequency's envelope
(a windowed single-bin DFT every 10 ms), a fixed threshold (-40 dBFS), and
durations matched with fixed tolerances. deepguard's detector
(:func:`deepguard.labels.explicit.audio_cue.detect_cue`) adds adaptive
thresholds, a frequency search, spectral-peak and prominence tests, a
least-squares fit of the rhythm and level checks.

Run:  .venv/bin/python bench/audio_cue.py [--renders 100] [--seed 0] [--markdown FILE]

The speech rows are skipped, with a message, when ../shared/data is absent.
Throughput is CPU time of the detectors alone on the decoded 16 kHz arrays
(the same arrays for both), in seconds of audio per second.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from _common import REPO, cpu_model
from deepguard.labels.explicit.audio_cue import detect_cue, synthesize_cue

SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
VOICES = SHARED_DATA / "voices" / "librispeech_test-other"
SR = 16_000

sys.path.insert(0, str(REPO / "tests"))
from media_factory import chords, encode_samples  # noqa: E402

MATCH_S = 0.1  # a hit within this of the true onset counts as found
Signal = npt.NDArray[np.float32]
Detector = Callable[[Signal], list[float]]


@dataclass(frozen=True, slots=True)
class Codec:
    name: str
    encoder: str
    muxer: str
    suffix: str
    rate: int
    bit_rate: int | None = None


CODECS = (
    Codec("WAV 16k", "pcm_s16le", "wav", ".wav", 16_000),
    Codec("WAV 8k", "pcm_s16le", "wav", ".wav", 8_000),
    Codec("MP3 64k", "libmp3lame", "mp3", ".mp3", 44_100, 64_000),
    Codec("AAC 64k", "aac", "ipod", ".m4a", 44_100, 64_000),
    Codec("Opus 32k", "libopus", "ogg", ".opus", 48_000, 32_000),
)
SNRS_DB = (0.0, -6.0)


# --- programmes --------------------------------------------------------------


def decode(path: Path, rate: int = SR) -> Signal:
    """Mono float32 at ``rate``, as FFmpeg decodes and resamples it."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
        parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32)


def speech_programmes(minimum_s: float = 8.0) -> list[Signal]:
    """LibriSpeech utterances, joined per speaker into clips of 8 s or more."""
    clips: list[Signal] = []
    for speaker in sorted(p for p in VOICES.iterdir() if p.is_dir()):
        pending: list[Signal] = []
        for path in sorted(speaker.glob("*.flac")):
            pending.append(decode(path))
            if sum(p.size for p in pending) >= minimum_s * SR:
                clips.append(np.concatenate(pending))
                pending = []
    return clips


def music_programmes(count: int, seed: int) -> list[Signal]:
    return [chords(10.0, seed * 1000 + i, SR).astype(np.float32) for i in range(count)]


# --- mixing and codecs -----------------------------------------------------


CUE = synthesize_cue(SR).astype(np.float64)
CUE_RMS = float(np.sqrt(np.mean(CUE[CUE != 0] ** 2)))


def mix(programme: Signal, at_s: float, snr_db: float) -> Signal:
    """The cue added at ``at_s``; its tones ``snr_db`` against the programme."""
    x = programme.astype(np.float64)
    gain = float(np.sqrt(np.mean(x**2))) * 10 ** (snr_db / 20) / CUE_RMS
    start = round(at_s * SR)
    x[start : start + CUE.size] += gain * CUE
    return (x / max(1.0, float(np.abs(x).max()))).astype(np.float32)


def through_codec(signal: Signal, codec: Codec, workdir: Path) -> Signal:
    """Encode at the codec's rate and bit rate, then decode back to 16 kHz."""
    path = workdir / f"clip{codec.suffix}"
    with av.open(str(path), "w", format=codec.muxer) as out:
        stream: Any = out.add_stream(codec.encoder, rate=codec.rate)
        stream.layout = "mono"
        if codec.bit_rate:
            stream.bit_rate = codec.bit_rate
        out.start_encoding()
        encode_samples(out, stream, signal.reshape(-1, 1), SR, "mono")
    return decode(path)


# --- detectors ---------------------------------------------------------------


def deepguard_detector(signal: Signal) -> list[float]:
    return [hit.start_s for hit in detect_cue(signal, SR)]


def baseline_detector(
    signal: Signal,
    *,
    freq: float = 1000.0,
    unit: float = 0.1,
    threshold_dbfs: float = -40.0,
) -> list[float]:
    """Fixed-threshold envelope at the cue frequency, fixed duration tolerances."""
    frame, hop = round(0.02 * SR), round(0.01 * SR)
    if signal.size < frame:
        return []
    window = np.hanning(frame)
    basis = window * np.exp(-2j * math.pi * freq * np.arange(frame) / SR)
    frames = np.lib.stride_tricks.sliding_window_view(signal, frame)[::hop]
    amplitude = np.abs(frames @ basis) * 2 / window.sum()
    on = 20 * np.log10(amplitude + 1e-9) > threshold_dbfs
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts = np.nonzero(edges == 1)[0] * hop / SR
    stops = np.nonzero(edges == -1)[0] * hop / SR
    hits: list[float] = []
    short, long_ = (0.6 * unit, 1.5 * unit), (2.2 * unit, 3.8 * unit)
    for i in range(len(starts) - 3):
        d = stops[i : i + 4] - starts[i : i + 4]
        g = starts[i + 1 : i + 4] - stops[i : i + 3]
        pattern = (short, long_, short, short)
        if all(lo <= x <= hi for x, (lo, hi) in zip(d, pattern, strict=True)) and all(
            0.5 * unit <= x <= 1.7 * unit for x in g
        ):
            hits.append(float(starts[i]))
    return hits


# --- measurement -------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """Counts for one detector in one cell."""

    trials: int = 0
    found: int = 0
    false_hits: int = 0
    errors_ms: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.trials if self.trials else 0.0

    @property
    def mean_error_ms(self) -> float:
        return float(np.mean(self.errors_ms)) if self.errors_ms else float("nan")


@dataclass(slots=True)
class Clock:
    """CPU seconds spent per detector, and the audio they were given."""

    seconds: dict[str, float] = field(default_factory=dict)
    audio_s: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, detector: Detector, signal: Signal) -> list[float]:
        started = time.process_time()
        hits = detector(signal)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - started
        self.audio_s[name] = self.audio_s.get(name, 0.0) + signal.size / SR
        return hits

    def rate(self, name: str) -> float:
        return self.audio_s.get(name, 0.0) / max(1e-9, self.seconds.get(name, 0.0))


DETECTORS: dict[str, Detector] = {
    "deepguard": deepguard_detector,
    "baseline": baseline_detector,
}


def score(hits: list[float], truth: float, tally: Tally) -> None:
    tally.trials += 1
    matched = [h for h in hits if abs(h - truth) <= MATCH_S]
    if matched:
        tally.found += 1
        tally.errors_ms.append(1000 * min(abs(h - truth) for h in matched))
    tally.false_hits += len(hits) - len(matched[:1])


def run_cell(
    programmes: Sequence[Signal],
    codec: Codec,
    snr_db: float,
    renders: int,
    rng: np.random.Generator,
    clock: Clock,
    workdir: Path,
) -> dict[str, Tally]:
    tallies = {name: Tally() for name in DETECTORS}
    for i in range(renders):
        programme = programmes[i % len(programmes)]
        at = float(rng.uniform(0.5, programme.size / SR - CUE.size / SR - 0.5))
        decoded = through_codec(mix(programme, at, snr_db), codec, workdir)
        for name, detector in DETECTORS.items():
            score(clock.run(name, detector, decoded), at, tallies[name])
    return tallies


def false_hits_on_clean(
    programmes: Sequence[Signal], clock: Clock, workdir: Path
) -> tuple[dict[str, int], float]:
    """False hits on every clean programme through every codec; hours searched."""
    counts = dict.fromkeys(DETECTORS, 0)
    seconds = 0.0
    for programme in programmes:
        for codec in CODECS:
            decoded = through_codec(programme, codec, workdir)
            seconds += decoded.size / SR
            for name, detector in DETECTORS.items():
                counts[name] += len(clock.run(name, detector, decoded))
    return counts, seconds / 3600


# --- output ------------------------------------------------------------------

RECALL_HEADERS = [
    "programme",
    "codec",
    "cue vs programme",
    "recall deepguard",
    "recall baseline",
    "ratio",
    "onset error deepguard (ms)",
    "onset error baseline (ms)",
    "false hits in mixes (dg / base)",
]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else ("∞" if a > 0 else "—")


def recall_row(
    programme: str, codec: Codec, snr_db: float, tallies: dict[str, Tally]
) -> list[str]:
    dg, base = tallies["deepguard"], tallies["baseline"]
    return [
        programme,
        codec.name,
        f"{snr_db:+.0f} dB",
        f"{dg.recall:.1%}",
        f"{base.recall:.1%}",
        ratio(dg.recall, base.recall),
        f"{dg.mean_error_ms:.1f}",
        f"{base.mean_error_ms:.1f}",
        f"{dg.false_hits} / {base.false_hits}",
    ]


def table(title: str, headers: list[str], body: list[list[str]]) -> Table:
    out = Table(title=title)
    for i, header in enumerate(headers):
        out.add_column(header, justify="left" if i < 3 else "right")
    for row in body:
        out.add_row(*row)
    return out


def markdown(title: str, headers: list[str], body: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |"]
    lines.append(
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(headers))) + "|"
    )
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--renders", type=int, default=100, help="mixes per programme/codec/level"
    )
    parser.add_argument("--seed", type=int, default=0, help="positions and music")
    parser.add_argument(
        "--markdown", type=Path, default=None, help="also write the tables here"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    sources: dict[str, list[Signal]] = {}
    if VOICES.is_dir():
        with console.status("decoding LibriSpeech"):
            sources["speech"] = speech_programmes()
    else:
        console.print(f"[yellow]{VOICES} is absent: skipping the LibriSpeech rows[/]")
    sources["music"] = music_programmes(max(10, min(args.renders, 50)), args.seed)
    rng = np.random.default_rng(args.seed)
    clock = Clock()
    recall_body: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="deepguard-bench-cue-") as tmp:
        workdir = Path(tmp)
        for programme, clips in sources.items():
            for snr_db in SNRS_DB:
                for codec in CODECS:
                    label = f"{programme} {codec.name} {snr_db:+.0f} dB"
                    with console.status(f"{args.renders} renders: {label}"):
                        tallies = run_cell(
                            clips, codec, snr_db, args.renders, rng, clock, workdir
                        )
                    recall_body.append(recall_row(programme, codec, snr_db, tallies))
        fp_body: list[list[str]] = []
        for programme, clips in sources.items():
            with console.status(f"false hits on clean {programme}"):
                counts, hours = false_hits_on_clean(clips, clock, workdir)
            fp_body.append(
                [
                    programme,
                    "all codecs",
                    f"{hours * 60:.1f} min",
                    str(counts["deepguard"]),
                    str(counts["baseline"]),
                    f"{counts['deepguard'] / hours:.2f} / "
                    f"{counts['baseline'] / hours:.2f}",
                ]
            )
    dg_rate, base_rate = clock.rate("deepguard"), clock.rate("baseline")
    speed_body = [
        [
            "detector only",
            "16 kHz mono",
            f"{clock.audio_s['deepguard'] / 60:.1f} min",
            f"{dg_rate:,.0f}",
            f"{base_rate:,.0f}",
            ratio(dg_rate, base_rate),
        ]
    ]
    fp_headers = [
        "programme",
        "codecs",
        "clean audio",
        "false hits deepguard",
        "false hits baseline",
        "per hour (dg / base)",
    ]
    speed_headers = [
        "what",
        "input",
        "audio",
        "deepguard (s audio / CPU s)",
        "baseline (s audio / CPU s)",
        "ratio",
    ]
    notes = [
        f"Machine: {os.cpu_count()} cores, {cpu_model()}; "
        f"Python {platform.python_version()}; PyAV {av.__version__}",
        f"{args.renders} renders per row, seed {args.seed}; a hit counts when its "
        f"onset is within {MATCH_S * 1000:.0f} ms of the true one.",
    ]
    tables = [
        ("Recall after mixing and encoding", RECALL_HEADERS, recall_body),
        ("False hits on the clean programmes", fp_headers, fp_body),
        ("Throughput", speed_headers, speed_body),
    ]
    for title, headers, body in tables:
        console.print(table(title, headers, body))
    for note in notes:
        console.print(note)
    if args.markdown is not None:
        text = "## Rhythm-cue detection\n\n" + "".join(f"- {n}\n" for n in notes)
        text += "".join("\n" + markdown(*t) for t in tables)
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
