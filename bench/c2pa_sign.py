"""C2PA sign and verify throughput: deepguard against c2pa-python used directly.

Why this peer: deepguard signs with c2pa-python, so the only honest question
is what deepguard adds on top of it (probing the content, walking its
headers, checking the credentials, looking for earlier provenance, reading
the result back, writing atomically with fsync; the peer writes its output
file directly and does not fsync). Both sides sign the same
files with the same ES256 test credentials and the same manifest (actions,
GB 45438 AIGC assertion, soft binding) under the same c2pa settings
(thumbnails off, verify-after-sign on, network off); the peer builds its
Signer and Context once, as a caller of c2pa-python would. Verification reads
the deepguard-signed files with the test trust anchors: deepguard through its
provenance C2PA reader (findings), the peer through ``c2pa.Reader``.

One process, one core, files one after another; each timing is the median
of the repeats after one warm-up run. "ratio" is deepguard's time per file
over the peer's: 1.00 means no overhead. The "sign, both fsync" row gives the
peer deepguard's durable write (temporary file, fsync, rename), so its ratio
is what deepguard's own checks cost.

Run:  .venv/bin/python bench/c2pa_sign.py [--n 40] [--repeats 7]

Prints a table and writes it as Markdown to bench/out/c2pa_sign.md. Exits 0
with a message when ../shared/data/c2pa (the test credentials) is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import c2pa
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from deepguard import __version__
from deepguard.labels.c2pa_sign import (
    AIGC_ASSERTION_LABEL,
    C2paSigningConfig,
    SoftBinding,
    sign_c2pa,
)
from deepguard.provenance.c2pa_reader import C2paReader

REPO = Path(__file__).resolve().parents[1]
C2PA_DATA = (REPO / ".." / "shared" / "data" / "c2pa").resolve()
MARKDOWN_OUT = REPO / "bench" / "out" / "c2pa_sign.md"
AIGC = {
    "AIGC": {
        "Label": "1",
        "ContentProducer": "001191440300708461136T1XGW3",
        "ProduceID": "bench-0001",
        "ReservedCode1": "",
        "ContentPropagator": "001191440300708461136T1XGW3",
        "PropagateID": "bench-0001",
        "ReservedCode2": "",
    }
}
WATERMARK = SoftBinding("org.deepguard.watermark.1", bytes(range(32)))
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


# --- corpus ---------------------------------------------------------------------


def photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients plus noise: compresses like a photograph."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x + y + seed) % 256], -1)
    noisy = rgb + rng.integers(-12, 13, size=rgb.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def write_mp4(path: Path, seed: int) -> None:
    """Two seconds of 640x360 H.264 at 25 fps with AAC audio."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "mono"
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(
                np.asarray(photo(640, 360, seed * 100 + i)), format="rgb24"
            )
            out.mux(video.encode(frame))
        out.mux(video.encode())
        t = np.arange(2 * 44100) / 44100
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, tone.size, 1024):
            block = av.AudioFrame.from_ndarray(
                tone[start : start + 1024].reshape(1, -1), format="flt", layout="mono"
            )
            block.sample_rate, block.pts = 44100, start
            block.time_base = Fraction(1, 44100)
            out.mux(audio.encode(block))
        out.mux(audio.encode())


FORMATS: dict[str, tuple[str, str, Callable[[Path, int], None]]] = {
    "JPEG": (
        "image/jpeg",
        ".jpg",
        lambda p, s: photo(1920, 1080, s).save(p, "JPEG", quality=90),
    ),
    "PNG": ("image/png", ".png", lambda p, s: photo(1024, 1024, s).save(p, "PNG")),
    "MP4": ("video/mp4", ".mp4", write_mp4),
}


def make_corpus(folder: Path, n: int) -> dict[str, list[Path]]:
    corpus: dict[str, list[Path]] = {}
    for name, (_, suffix, make) in FORMATS.items():
        paths = []
        for i in range(n):
            path = folder / "src" / name / f"{i:04d}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            make(path, i)
            paths.append(path)
        corpus[name] = paths
    return corpus


# --- the two sides ------------------------------------------------------------------


def peer_manifest() -> dict[str, Any]:
    agent = {"name": "peer", "version": c2pa.__version__}
    return {
        "claim_generator_info": [agent],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": AI_SOURCE,
                            "softwareAgent": agent,
                        }
                    ]
                },
            },
            {"label": AIGC_ASSERTION_LABEL, "data": AIGC},
            {"label": "c2pa.soft-binding", "data": WATERMARK.assertion_data()},
        ],
    }


@dataclass
class Peer:
    """c2pa-python on its own: one Signer and Context for every file."""

    signer: c2pa.Signer
    sign_context: c2pa.Context
    read_context: c2pa.Context

    @classmethod
    def create(cls, config: C2paSigningConfig, trust: dict[str, Any]) -> Peer:
        info = c2pa.C2paSignerInfo(
            b"es256",
            config.cert_chain.read_bytes(),
            config.private_key.read_bytes(),
            None,
        )
        offline = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
        sign_settings = {**offline, "builder": {"thumbnail": {"enabled": False}}}
        read_settings = {**trust, **offline}
        return cls(
            signer=c2pa.Signer.from_info(info),
            sign_context=c2pa.Context(settings=c2pa.Settings.from_dict(sign_settings)),
            read_context=c2pa.Context(settings=c2pa.Settings.from_dict(read_settings)),
        )

    def sign(self, src: Path, dst: Path, mime: str) -> None:
        with (
            c2pa.Builder(peer_manifest(), context=self.sign_context) as builder,
            src.open("rb") as source,
            dst.open("w+b") as target,
        ):
            builder.sign(self.signer, mime, source, target)

    def sign_durably(self, src: Path, dst: Path, mime: str) -> None:
        """As :meth:`sign`, but written like deepguard writes: temporary file
        beside ``dst``, fsync, rename. Isolates the cost of durability."""
        fd, name = tempfile.mkstemp(dir=dst.parent, suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        try:
            self.sign(src, tmp, mime)
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)

    def verify(self, path: Path, mime: str) -> str:
        with (
            path.open("rb") as fh,
            c2pa.Reader(mime, fh, context=self.read_context) as reader,
        ):
            json.loads(reader.json())
            return str(reader.get_validation_state())


# --- timing -------------------------------------------------------------------------


def median_seconds(
    runs: dict[str, Callable[[], None]], repeats: int
) -> dict[str, float]:
    """Median time of each run. Runs alternate within every repeat, so that
    a busy neighbour or a slow disk moment hits both sides alike, and each
    starts with the page cache flushed (``os.sync``, untimed): otherwise the
    first fsync after a run that did not sync pays for that run's writes."""
    for run in runs.values():
        run()  # warm-up: imports, native contexts, disk cache
    seconds: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            os.sync()
            started = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - started)
    return {key: statistics.median(values) for key, values in seconds.items()}


@dataclass(frozen=True)
class Row:
    fmt: str
    op: str
    files: int
    mean_bytes: int
    deepguard_s: float
    peer_s: float

    def cells(self) -> list[str]:
        def rate(seconds: float) -> str:
            return f"{self.files / seconds:,.0f}"

        def ms(seconds: float) -> str:
            return f"{seconds / self.files * 1000:.2f}"

        return [
            self.fmt,
            self.op,
            f"{self.mean_bytes / 1024:,.0f} KiB",
            rate(self.deepguard_s),
            ms(self.deepguard_s),
            rate(self.peer_s),
            ms(self.peer_s),
            f"{self.deepguard_s / self.peer_s:.2f}",
        ]


HEADERS = [
    "format",
    "op",
    "file size",
    "deepguard files/s",
    "deepguard ms/file",
    "c2pa-python files/s",
    "c2pa-python ms/file",
    "ratio",
]


def measure(
    name: str, paths: list[Path], out: Path, repeats: int, trust_file: Path
) -> list[Row]:
    mime = FORMATS[name][0]
    config = C2paSigningConfig(
        C2PA_DATA / "es256_certs.pem", C2PA_DATA / "es256_private.key"
    )
    trust = json.loads(trust_file.read_text())
    peer = Peer.create(config, trust)
    reader = C2paReader(trust_file, detector="bench")
    ours = [out / "deepguard" / name / p.name for p in paths]
    theirs = [out / "peer" / name / p.name for p in paths]
    for target in (*ours, *theirs):
        target.parent.mkdir(parents=True, exist_ok=True)
    aigc_json = json.dumps(AIGC, separators=(",", ":"))

    def deepguard_sign() -> None:
        for src, dst in zip(paths, ours, strict=True):
            sign_c2pa(
                src, dst, signing=config, aigc_json=aigc_json, soft_binding=WATERMARK
            )

    def peer_sign() -> None:
        for src, dst in zip(paths, theirs, strict=True):
            peer.sign(src, dst, mime)

    def peer_sign_durably() -> None:
        for src, dst in zip(paths, theirs, strict=True):
            peer.sign_durably(src, dst, mime)

    states: list[str] = []

    def deepguard_verify() -> None:
        states.clear()
        for path in ours:
            findings = reader.read(path, mime)
            states.append(str(findings[0].details["validation_state"]))

    def peer_verify() -> None:
        for path in ours:
            peer.verify(path, mime)

    signing = median_seconds(
        {"ours": deepguard_sign, "peer": peer_sign, "durable": peer_sign_durably},
        repeats,
    )
    checking = median_seconds({"ours": deepguard_verify, "peer": peer_verify}, repeats)
    size = int(statistics.mean(p.stat().st_size for p in paths))
    signed_size = int(statistics.mean(p.stat().st_size for p in ours))
    rows = [
        Row(name, "sign", len(paths), size, signing["ours"], signing["peer"]),
        Row(
            name,
            "sign, both fsync",
            len(paths),
            size,
            signing["ours"],
            signing["durable"],
        ),
        Row(
            name,
            "verify",
            len(paths),
            signed_size,
            checking["ours"],
            checking["peer"],
        ),
    ]
    if set(states) != {"Trusted"} or {peer.verify(p, mime) for p in ours} != {
        "Trusted"
    }:
        raise SystemExit(f"{name}: signed files do not validate as Trusted")
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"deepguard {__version__}, c2pa-python {c2pa.__version__} "
        f"(c2pa-rs {c2pa.sdk_version()}), Python {platform.python_version()}, {cpu}"
    )


def markdown(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        "# C2PA sign/verify throughput: deepguard vs c2pa-python",
        "",
        machine(),
        f"{args.n} files per format, median of {args.repeats} runs after a warm-up,"
        " one process.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="files per format")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    trust_file = C2PA_DATA / "trust_config_test_settings.json"
    if not trust_file.is_file():
        print(f"skipped: {C2PA_DATA} (C2PA test credentials) is absent")
        return 0
    console = Console(width=max(Console().width, 132))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="c2pa-bench-") as tmp:
        folder = Path(tmp)
        console.print(f"generating {args.n} files per format in {folder} ...")
        corpus = make_corpus(folder, args.n)
        for name, paths in corpus.items():
            rows += measure(name, paths, folder / "out", args.repeats, trust_file)
    table = Table(title="C2PA sign/verify: deepguard vs c2pa-python", caption=machine())
    for header in HEADERS:
        table.add_column(
            header, justify="left" if header in ("format", "op") else "right"
        )
    for row in rows:
        table.add_row(*row.cells())
    console.print(table)
    MARKDOWN_OUT.parent.mkdir(parents=True, exist_ok=True)
    MARKDOWN_OUT.write_text(markdown(rows, args))
    console.print(f"written to {MARKDOWN_OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
