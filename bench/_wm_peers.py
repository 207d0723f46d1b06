"""Peer watermarks for the watermark benchmarks: invisible-watermark's three methods.

Each peer embeds a fixed random payload of the longest length it sensibly
carries and reads it back, behind one small interface (:class:`Peer`):
``name``, ``bits``, ``embed(rgb) -> rgb`` and ``decode(rgb) -> bits``, on
``HxWx3`` ``uint8`` RGB arrays.

* ``dwtDct`` and ``dwtDctSvd`` (64 bits): the package's own embedders and
  readers, run as they are. The package's ``__init__`` imports PyTorch for
  rivaGan, which deepguard does not depend on, so the two modules are loaded
  by file path and never through ``import imwatermark``.
* ``rivaGan`` (32 bits): the two ONNX networks shipped inside the package,
  run with onnxruntime directly, with the package's pre- and post-processing
  reproduced in NumPy: pixels to [-1, 1], a ``1x3x1xHxW`` frame tensor,
  the output clamped and truncated back to ``uint8``; decoded bits are the
  outputs above 0.52.

The package's methods want BGR arrays (OpenCV's convention); the adapters
convert, so every peer takes and returns RGB like deepguard does.

Run:  .venv/bin/python bench/_wm_peers.py [IMAGE ...]
prints each peer's bit accuracy after embedding (and after JPEG at quality
90) on the images given, or on photos from ../shared/data, or on generated
images when that is absent.
"""

from __future__ import annotations

import abc
import argparse
import importlib.util
import io
import sys
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
PAYLOAD_SEED = 20_240_613
"""Seed of the fixed payloads: every run and every image embeds the same bits."""

Rgb = npt.NDArray[np.uint8]
Bits = npt.NDArray[np.uint8]


class PeerUnavailable(RuntimeError):
    """invisible-watermark (or one of its model files) is not installed."""


@cache
def package_dir() -> Path:
    """Where ``imwatermark`` is installed, found without importing it.

    Raises:
        PeerUnavailable: the package is not installed.
    """
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        msg = "invisible-watermark is not installed (scripts/bootstrap-venv.sh)"
        raise PeerUnavailable(msg)
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def load_module(name: str) -> ModuleType:
    """One of the package's modules, loaded by path so PyTorch is never needed.

    Raises:
        PeerUnavailable: the package or the module file is missing.
    """
    path = package_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_imwatermark_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        msg = f"invisible-watermark has no {name}.py at {path}"
        raise PeerUnavailable(msg)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixed_payload(bits: int) -> Bits:
    """The peer's payload: ``bits`` random bits, the same on every run."""
    rng = np.random.default_rng(PAYLOAD_SEED + bits)
    return rng.integers(0, 2, size=bits, dtype=np.uint8)


def _bgr(rgb: Rgb) -> Rgb:
    return np.ascontiguousarray(rgb[:, :, ::-1])


class Peer(abc.ABC):
    """A watermark to compare deepguard's against."""

    name: ClassVar[str]
    bits: ClassVar[int]

    def __init__(self) -> None:
        self.payload = fixed_payload(self.bits)

    @abc.abstractmethod
    def embed(self, rgb: Rgb) -> Rgb:
        """``rgb`` carrying :attr:`payload`."""

    @abc.abstractmethod
    def decode(self, rgb: Rgb) -> Bits:
        """The :attr:`bits` bits read from ``rgb`` (0/1)."""

    def accuracy(self, rgb: Rgb) -> float:
        """Share of payload bits read back correctly."""
        return float(np.mean(self.decode(rgb) == self.payload))


class _Transform(Peer):
    """``dwtDct`` / ``dwtDctSvd``: the package's embedder class, as shipped."""

    module: ClassVar[str]
    cls: ClassVar[str]

    def _embedder(self, payload: Sequence[int]) -> Any:
        factory = getattr(load_module(self.module), self.cls)
        return factory(watermarks=list(payload), wmLen=self.bits)

    def embed(self, rgb: Rgb) -> Rgb:
        marked = self._embedder([int(b) for b in self.payload]).encode(_bgr(rgb))
        return _bgr(np.asarray(marked, dtype=np.uint8))

    def decode(self, rgb: Rgb) -> Bits:
        bits = self._embedder([]).decode(_bgr(rgb))
        return np.asarray(bits, dtype=np.uint8).reshape(-1)


class DwtDctPeer(_Transform):
    """invisible-watermark ``dwtDct``: the scheme Stable Diffusion uses."""

    name = "dwtDct"
    bits = 64
    module = "maxDct"
    cls = "EmbedMaxDct"


class DwtDctSvdPeer(_Transform):
    """invisible-watermark ``dwtDctSvd``: the same cells, singular value marked."""

    name = "dwtDctSvd"
    bits = 64
    module = "dwtDctSvd"
    cls = "EmbedDwtDctSvd"


class RivaGanPeer(Peer):
    """invisible-watermark ``rivaGan``: its ONNX encoder and decoder, no PyTorch."""

    name = "rivaGan"
    bits = 32
    threshold = 0.52

    def __init__(self) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        sessions = []
        for part in ("encoder", "decoder"):
            path = package_dir() / f"rivagan_{part}.onnx"
            if not path.is_file():
                msg = f"invisible-watermark has no rivaGan {part} at {path}"
                raise PeerUnavailable(msg)
            sessions.append(
                ort.InferenceSession(
                    str(path), sess_options=options, providers=["CPUExecutionProvider"]
                )
            )
        self._encoder, self._decoder = sessions

    @staticmethod
    def _frame(bgr: Rgb) -> npt.NDArray[np.float32]:
        """``HxWx3`` pixels to the ``1x3x1xHxW`` tensor in [-1, 1] it expects."""
        scaled = bgr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        return np.ascontiguousarray(
            scaled.transpose(2, 0, 1)[np.newaxis, :, np.newaxis]
        )

    def embed(self, rgb: Rgb) -> Rgb:
        data = self.payload.astype(np.float32)[np.newaxis]
        (out,) = self._encoder.run(
            None, {"frame": self._frame(_bgr(rgb)), "data": data}
        )
        frame = np.clip(out[0, :, 0], -1.0, 1.0).transpose(1, 2, 0)
        # The package truncates with astype('uint8'), not rounds: kept so.
        return _bgr(((frame + 1.0) * 127.5).astype(np.uint8))

    def decode(self, rgb: Rgb) -> Bits:
        (out,) = self._decoder.run(None, {"frame": self._frame(_bgr(rgb))})
        scores = np.asarray(out, dtype=np.float32)[0]
        bits: Bits = (scores > self.threshold).astype(np.uint8)
        return bits


PEERS: tuple[type[Peer], ...] = (DwtDctPeer, DwtDctSvdPeer, RivaGanPeer)


def available_peers() -> list[Peer]:
    """Every peer that can run here; the missing ones are named on stderr."""
    peers: list[Peer] = []
    for cls in PEERS:
        try:
            peers.append(cls())
        except PeerUnavailable as exc:
            print(f"skipped {cls.name}: {exc}", file=sys.stderr)
    return peers


def jpeg(rgb: Rgb, quality: int) -> Rgb:
    """``rgb`` through a JPEG encode and decode with Pillow."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _sample_images(
    paths: Sequence[str], limit: int, max_side: int
) -> list[tuple[str, Rgb]]:
    if paths:
        files = [Path(p) for p in paths]
    else:
        files = sorted((SHARED_DATA / "faces" / "test").glob("*.jpg"))[:limit]
    images = []
    for path in files:
        image = Image.open(path).convert("RGB")
        image.thumbnail((max_side, max_side))
        images.append((path.name, np.asarray(image)))
    if not images:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:512, 0:512]
        base = np.stack([x // 2, y // 2, (x + y) // 4], axis=-1)
        noisy = base + rng.integers(-12, 13, size=base.shape)
        images.append(("generated-gradient", np.clip(noisy, 0, 255).astype(np.uint8)))
    return images


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "images", nargs="*", help="images to mark (default: shared photos)"
    )
    parser.add_argument("--limit", type=int, default=3, help="shared photos to use")
    parser.add_argument("--max-side", type=int, default=768)
    args = parser.parse_args(argv)
    peers = available_peers()
    images = _sample_images(args.images, args.limit, args.max_side)
    print(
        f"{'peer':<10} {'bits':>4} {'image':<24} {'size':>9} "
        f"{'clean':>6} {'jpeg90':>6} {'PSNR dB':>7} {'s/img':>6}"
    )
    for peer in peers:
        for name, rgb in images:
            start = time.perf_counter()
            marked = peer.embed(rgb)
            clean = peer.accuracy(marked)
            elapsed = time.perf_counter() - start
            compressed = peer.accuracy(jpeg(marked, 90))
            mse = float(np.mean((marked.astype(np.float64) - rgb) ** 2))
            psnr = 10 * np.log10(255.0**2 / mse) if mse else float("inf")
            size = f"{rgb.shape[1]}x{rgb.shape[0]}"
            print(
                f"{peer.name:<10} {peer.bits:>4} {name[:24]:<24} {size:>9} "
                f"{clean:>6.3f} {compressed:>6.3f} {psnr:>7.1f} {elapsed:>6.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
