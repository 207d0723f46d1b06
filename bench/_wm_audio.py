"""Audio watermark: robustness, inaudibility and speed, against a patchwork peer.

What it measures. About 20 clips (``--quick``: 6) are marked with a random
payload each: real read speech (LibriSpeech test-other from ../shared/data, one
speaker per clip, 16 kHz, 14 s), synthetic music (stereo chords at 44.1 kHz,
14 s) and, when espeak-ng is installed, synthetic speech (44.1 kHz). Every
marked clip goes through each attack, and 5-second fragments at random
offsets (any sample) of the result are read back: the hard case, since a
fragment starts mid-block and holds one copy of the payload. Per attack:

* ``bit acc``: payload bits right, after error correction when the BCH code
  accepted the word, else the raw hard bits (``details["raw_bits"]``);
* ``raw acc``: coded bits right before error correction;
* ``detect``: share of fragments called marked at FPR 1e-6 (p-value from the
  detector, every start and payload paid for);
* ``payload``: share of fragments called marked whose 32-bit payload came back
  exactly;
* ``peer acc`` / ``peer det``: the same for the peer below.

The peer is the patchwork mark one writes first, after audiowmark: the same
tiles, groups, code and payload, but a fixed +-delta on the tiles by the
group's sign pattern and bit (spread spectrum, no knowledge of the programme),
scaled per clip to the same mark energy as deepguard's. The peer is read at
the true alignment (an oracle: it would need its own search), and counts as
marked when at least 30 of 32 payload bits match (binomial tail <= 1e-6).

Inaudibility: mark-to-signal ratio (MSR, dB; lower is quieter) and segmental
SNR (20 ms frames with signal, each clipped to [-10, 35] dB). Speed: CPU time
of ``embed`` per second of audio (x real time, one thread) and of ``detect`` on
a 5-second fragment. Unmarked fragments of every clip go through the detector
to count false positives.

Run:  .venv/bin/python bench/_wm_audio.py [--quick] [--seed 0] [--json FILE]
"""

from __future__ import annotations

import os

os.environ.update(
    dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
)

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from _common import REPO, cpu_model
from deepguard.watermark._audio_dsp import (
    RATE,
    TILE,
    apply_gains,
    resample,
    tile_energies_at,
    tile_features,
)
from deepguard.watermark._audio_layout import (
    BANDS,
    BLOCK_COLUMNS,
    COLUMN_TILES,
    GROUP_TILES,
    AudioLayout,
)
from deepguard.watermark.audio import AudioWatermarker
from deepguard.watermark.base import WatermarkKey
from deepguard.watermark.payload import Payload

sys.path.insert(0, str(REPO / "tests"))
from media_factory import chords, swr, through_codec

Samples = npt.NDArray[np.float32]
VOICES = (
    REPO / ".." / "shared" / "data" / "voices" / "librispeech_test-other"
).resolve()
FRAGMENT_S = 5.0
CLIP_S = 14.0
PEER_BITS_FOR_TPR = 30  # P(Bin(32, 1/2) >= 30) = 1.3e-7 <= 1e-6
SPEED_GRID = tuple(round(0.95 + 0.01 * i, 2) for i in range(11))
ESPEAK_TEXTS = (
    "Artificial intelligence generated this sentence to test an audio mark.",
    "Every platform should be able to read the label that a provider embeds.",
    "The quick brown fox jumps over the lazy dog while the mark stays put.",
    "Speech synthesis gives a clean voice with few pauses and a flat pitch.",
)


@dataclass(frozen=True, slots=True)
class Clip:
    name: str
    kind: str
    rate: int
    samples: Samples  # (n, channels)


@dataclass(frozen=True, slots=True)
class Attack:
    name: str
    apply: Callable[[Samples, int, np.random.Generator], tuple[Samples, int]]
    applies_to: Callable[[Clip], bool] = lambda clip: True
    speeds: bool = False  # read with the speed search


@dataclass
class Tally:
    n: int = 0
    bit_acc: list[float] = field(default_factory=list)
    raw_acc: list[float] = field(default_factory=list)
    detected: int = 0
    exact: int = 0
    peer_acc: list[float] = field(default_factory=list)
    peer_hits: int = 0


# --- corpus ----------------------------------------------------------------------


def _read(path: Path, rate: int, layout: str = "mono") -> Samples:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        parts = [
            out.to_ndarray()
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
        parts += [out.to_ndarray() for out in resampler.resample(None)]
    return np.concatenate(parts, axis=1).T.astype(np.float32)


def _voices(count: int) -> list[Clip]:
    if not VOICES.is_dir():
        return []
    clips = []
    for speaker in sorted(p for p in VOICES.iterdir() if p.is_dir())[:count]:
        parts: list[Samples] = []
        for flac in sorted(speaker.glob("*.flac")):
            parts.append(_read(flac, 16_000))
            if sum(p.shape[0] for p in parts) >= CLIP_S * 16_000:
                break
        voice = np.concatenate(parts)[: round(CLIP_S * 16_000)]
        clips.append(Clip(f"librispeech-{speaker.name}", "speech", 16_000, voice))
    return clips


def _music(count: int) -> list[Clip]:
    clips = []
    for seed in range(count):
        a = chords(CLIP_S, 100 + seed, rate=44_100)
        b = chords(CLIP_S, 200 + seed, rate=44_100)
        stereo = np.stack([0.7 * a + 0.3 * b, 0.3 * a + 0.7 * b], axis=1)
        clips.append(Clip(f"chords-{seed}", "music", 44_100, stereo.astype(np.float32)))
    return clips


def _espeak(count: int) -> list[Clip]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return []
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            text = " ".join(ESPEAK_TEXTS[(i + k) % len(ESPEAK_TEXTS)] for k in range(4))
            wav = Path(tmp) / f"{i}.wav"
            voice = ("en", "en-us", "de", "fr")[i % 4]
            subprocess.run(
                [exe, "-v", voice, "-s", "150", "-w", str(wav), text],
                check=True,
                capture_output=True,
            )
            x = _read(wav, 44_100)[: round(CLIP_S * 44_100)]
            clips.append(Clip(f"espeak-{voice}", "tts", 44_100, x))
    return clips


def corpus(quick: bool) -> list[Clip]:
    if quick:
        return _voices(3) + _music(2) + _espeak(1)
    return _voices(10) + _music(6) + _espeak(4)


# --- attacks ---------------------------------------------------------------------


def codec(label: str, name: str, fmt: str, bit_rate: int, codec_rate: int) -> Attack:
    """Encode at 44.1 kHz (Opus: 48 kHz) as a platform would, decode at 44.1 kHz."""

    def run(x: Samples, rate: int, rng: np.random.Generator) -> tuple[Samples, int]:
        if rate != 44_100:
            x, rate = swr(x, rate, 44_100), 44_100
        return through_codec(x, rate, name, fmt, bit_rate, codec_rate), 44_100

    return Attack(f"{label} {bit_rate // 1000}k", run)


def _noise(x: Samples, rate: int, rng: np.random.Generator) -> tuple[Samples, int]:
    power = float(np.mean(x.astype(np.float64) ** 2))
    noise = rng.standard_normal(x.shape) * math.sqrt(power / 100.0)
    return (x + noise).astype(np.float32), rate


def _speed(factor: float) -> Callable[[Samples, int, np.random.Generator], Any]:
    def run(x: Samples, rate: int, rng: np.random.Generator) -> tuple[Samples, int]:
        fast = resample(x.astype(np.float64), round(1000 * factor), 1000)
        return fast.astype(np.float32), rate

    return run


ATTACKS = (
    Attack("none", lambda x, r, g: (x, r)),
    codec("mp3", "libmp3lame", "mp3", 64_000, 44_100),
    codec("aac", "aac", "adts", 64_000, 44_100),
    codec("opus", "libopus", "ogg", 32_000, 48_000),
    Attack(
        "44.1k -> 16k",
        lambda x, r, g: (swr(x, r, 16_000), 16_000),
        lambda clip: clip.rate == 44_100,
    ),
    Attack(
        "16k -> 44.1k",
        lambda x, r, g: (swr(x, r, 44_100), 44_100),
        lambda clip: clip.rate == 16_000,
    ),
    Attack("noise 20 dB", _noise),
    Attack("volume x0.5", lambda x, r, g: ((x * np.float32(0.5)), r)),
    Attack("volume x2 (clipped)", lambda x, r, g: (np.clip(x * 2, -1, 1), r)),
    Attack("speed +5%", _speed(1.05)),
    Attack("speed -5%", _speed(0.95)),
    Attack("speed +5% (searched)", _speed(1.05), speeds=True),
    Attack("speed -5% (searched)", _speed(0.95), speeds=True),
)


# --- metrics -------------------------------------------------------------------------


def msr_db(original: Samples, marked: Samples) -> float:
    delta = marked.astype(np.float64) - original
    return float(
        10 * np.log10(np.sum(delta**2) / np.sum(original.astype(np.float64) ** 2))
    )


def segmental_snr_db(original: Samples, marked: Samples, rate: int) -> float:
    """Mean per-frame SNR over 20 ms frames with signal, each clipped to [-10, 35]."""
    frame = round(0.02 * rate)
    n = original.shape[0] // frame * frame
    x = original[:n].astype(np.float64).reshape(-1, frame, original.shape[1])
    d = marked[:n].astype(np.float64).reshape(x.shape) - x
    signal = np.sum(x**2, axis=(1, 2))
    noise = np.sum(d**2, axis=(1, 2)) + 1e-20
    voiced = signal > 1e-4 * signal.max()
    snr = np.clip(10 * np.log10(signal[voiced] / noise[voiced] + 1e-20), -10, 35)
    return float(np.mean(snr))


def _bits_of(detection: Any) -> npt.NDArray[np.uint8] | None:
    if detection.payload is not None:
        return np.asarray(detection.payload.to_bits(), dtype=np.uint8)
    raw = detection.details.get("raw_bits")
    return np.asarray(raw, dtype=np.uint8) if raw is not None else None


# --- the peer: patchwork without knowledge of the programme -------------------------


class PatchworkPeer:
    """Fixed +-delta per tile by sign pattern and bit; read at the true alignment."""

    def __init__(self, layout: AudioLayout) -> None:
        self.layout = layout

    def gains(
        self, tiles: int, payload_bits: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.float64]:
        targets = self.layout.group_targets(payload_bits)
        columns = tiles // COLUMN_TILES
        block = np.arange(columns) % BLOCK_COLUMNS
        polarity = 2.0 * targets[block] - 1.0  # (columns, groups)
        per_tile = np.einsum("cj,cjt->ct", polarity, self.layout.signs[block])
        out = np.zeros((tiles, BANDS))
        out[: columns * COLUMN_TILES] = per_tile.reshape(-1, BANDS)
        return out

    def embed(
        self, x: Samples, rate: int, payload_bits: npt.NDArray[np.uint8], energy: float
    ) -> Samples:
        """Mark with delta scaled so the mark's energy equals ``energy``."""
        x64 = x.astype(np.float64)
        tiles = round(x.shape[0] * RATE / rate) // TILE
        unit = self.gains(tiles, payload_bits)
        trial = apply_gains(x64, rate, 0.1 * unit)
        delta = 0.1 * math.sqrt(energy / max(float(np.sum(trial**2)), 1e-30))
        marked = x64 + apply_gains(x64, rate, delta * unit)
        return np.clip(marked, -1, 1).astype(np.float32)

    def read(self, x: Samples, rate: int, start_s: float) -> npt.NDArray[np.uint8]:
        """Payload bits of a fragment that starts ``start_s`` into the marked clip."""
        column = COLUMN_TILES * TILE
        t0 = start_s * RATE
        first = math.ceil(t0 / column - 1e-9)
        x16 = resample(
            x.astype(np.float64).mean(axis=1), rate, RATE, first * column - t0
        )
        features, _ = tile_features(tile_energies_at(x16))
        columns = features.shape[0] // COLUMN_TILES
        values = features[: columns * COLUMN_TILES].reshape(columns, -1)
        values = np.where(np.isnan(values), 0.0, values)
        block = (first + np.arange(columns)) % BLOCK_COLUMNS
        projections = np.einsum("ct,cjt->cj", values, self.layout.signs[block])
        centred = projections / GROUP_TILES
        centred = centred - np.median(centred)
        soft = np.bincount(
            self.layout.bits[block].ravel(),
            centred.ravel(),
            minlength=self.layout.code.coded_bits,
        )
        decoded = self.layout.code.decode(soft)
        if decoded.ok:
            return decoded.bits.astype(np.uint8)
        return (soft[:32] > 0).astype(np.uint8)


def _lag(reference: Samples, attacked: Samples) -> int:
    """Samples the attacked copy is late by (codec priming), by cross-correlation."""
    a = reference.astype(np.float64).mean(axis=1)
    b = attacked.astype(np.float64).mean(axis=1)
    n = min(a.size, b.size, 10 * 44_100)
    size = 1 << math.ceil(math.log2(2 * n))
    corr = np.fft.irfft(
        np.fft.rfft(b[:n], size) * np.conj(np.fft.rfft(a[:n], size)), size
    )
    window = np.concatenate([corr[:4096], corr[-4096:]])
    lags = np.concatenate([np.arange(4096), np.arange(-4096, 0)])
    return int(lags[np.argmax(window)])


# --- the run -----------------------------------------------------------------------


def audio_rows(quick: bool, seed: int = 0) -> list[dict[str, Any]]:
    """One row per attack, plus quality, speed and false positives."""
    rng = np.random.default_rng(seed)
    wm = AudioWatermarker()
    searching = AudioWatermarker(speeds=SPEED_GRID)
    peer = PatchworkPeer(AudioLayout.for_key(WatermarkKey()))
    clips = corpus(quick)
    per_clip = 1 if quick else 2
    tallies = {a.name: Tally() for a in ATTACKS}
    msr, seg, speed_x, detect_ms, peer_msr = [], [], [], [], []
    false_pos = unmarked = 0
    for clip in clips:
        payload = Payload(int(rng.integers(1 << 20)), int(rng.integers(1 << 44)))
        truth = payload.short().to_bits()
        coded = peer.layout.code.encode(truth)
        started = time.process_time()
        marked = wm.embed(clip.samples, clip.rate, payload)
        speed_x.append(
            clip.samples.shape[0] / clip.rate / (time.process_time() - started)
        )
        msr.append(msr_db(clip.samples, marked))
        seg.append(segmental_snr_db(clip.samples, marked, clip.rate))
        energy = float(np.sum((marked.astype(np.float64) - clip.samples) ** 2))
        peer_marked = peer.embed(clip.samples, clip.rate, truth, energy)
        peer_msr.append(msr_db(clip.samples, peer_marked))
        for attack in ATTACKS:
            if not attack.applies_to(clip):
                continue
            tally = tallies[attack.name]
            attacked, rate = attack.apply(marked, clip.rate, rng)
            peer_attacked, _ = attack.apply(peer_marked, clip.rate, rng)
            lag = _lag(
                swr(marked, clip.rate, rate) if rate != clip.rate else marked, attacked
            )
            reader = searching if attack.speeds else wm
            span = round(FRAGMENT_S * rate)
            for _ in range(per_clip):
                lo = int(rng.integers(0, attacked.shape[0] - span))
                started = time.process_time()
                detection = reader.detect(attacked[lo : lo + span], rate)
                if attack.name == "none":
                    detect_ms.append(1000 * (time.process_time() - started))
                bits = _bits_of(detection)
                tally.n += 1
                tally.bit_acc.append(
                    0.5 if bits is None else float(np.mean(bits == truth))
                )
                raw = detection.details.get("raw_coded_bits")
                tally.raw_acc.append(
                    0.5 if raw is None else float(np.mean(np.asarray(raw) == coded))
                )
                tally.detected += detection.present
                tally.exact += bool(
                    detection.present
                    and detection.payload is not None
                    and detection.payload.matches(payload)
                )
                if not attack.name.startswith("speed"):
                    got = peer.read(
                        peer_attacked[lo : lo + span], rate, (lo - lag) / rate
                    )
                    matched = int(np.sum(got == truth))
                    tally.peer_acc.append(matched / 32)
                    tally.peer_hits += matched >= PEER_BITS_FOR_TPR
        span = round(FRAGMENT_S * clip.rate)
        for _ in range(2):
            lo = int(rng.integers(0, clip.samples.shape[0] - span))
            detection = wm.detect(clip.samples[lo : lo + span], clip.rate)
            unmarked += 1
            false_pos += detection.present
    rows: list[dict[str, Any]] = []
    for attack in ATTACKS:
        t = tallies[attack.name]
        if not t.n:
            continue
        row: dict[str, Any] = {
            "attack": attack.name,
            "n": t.n,
            "bit acc": statistics.fmean(t.bit_acc),
            "raw acc": statistics.fmean(t.raw_acc),
            "detect": t.detected / t.n,
            "payload": t.exact / t.n,
            "peer acc": statistics.fmean(t.peer_acc) if t.peer_acc else None,
            "peer det": t.peer_hits / len(t.peer_acc) if t.peer_acc else None,
        }
        rows.append(row)
    rows.append(
        {
            "attack": "unmarked (false positives)",
            "n": unmarked,
            "detect": false_pos / max(unmarked, 1),
        }
    )
    rows.append(
        {
            "attack": "quality and speed",
            "n": len(clips),
            "MSR dB": f"{statistics.fmean(msr):.1f} ({max(msr):.1f})",
            "segSNR dB": f"{statistics.fmean(seg):.1f} ({min(seg):.1f})",
            "peer MSR": f"{statistics.fmean(peer_msr):.1f}",
            "embed x rt": f"{statistics.fmean(speed_x):.0f} ({min(speed_x):.0f})",
            "detect ms": f"{statistics.median(detect_ms):.0f}",
        }
    )
    kinds = {}
    for clip in clips:
        kinds[clip.kind] = kinds.get(clip.kind, 0) + 1
    rows[-1]["clips"] = ", ".join(f"{v} {k}" for k, v in kinds.items())
    return rows


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Audio watermark: 5-second fragments at random offsets")
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if value is None:
                cells.append("")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    return table


def ratio_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        peer = row.get("peer det")
        if peer is None:
            continue
        ours = row["detect"]
        ratio = (
            "inf"
            if peer == 0 and ours > 0
            else f"{ours / peer:.1f}x"
            if peer
            else "n/a"
        )
        lines.append(
            f"{row['attack']}: detection {ours:.0%} vs peer {peer:.0%} "
            f"({ratio}); bit accuracy {row['bit acc']:.3f} vs {row['peer acc']:.3f}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    console = Console(width=170)
    started = time.time()
    rows = audio_rows(args.quick, args.seed)
    console.print(_table(rows))
    for line in ratio_lines(rows):
        console.print(f"  {line}", highlight=False)
    console.print(
        f"- Machine: {os.cpu_count()} cores, {cpu_model()}; one thread; "
        f"{time.time() - started:.0f} s wall.",
        highlight=False,
    )
    if not VOICES.is_dir():
        console.print("- ../shared/data is absent: no LibriSpeech clips.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
