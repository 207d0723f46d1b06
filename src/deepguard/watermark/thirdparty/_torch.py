"""VideoSeal and AudioSeal (Meta) detection with their TorchScript models.

PyTorch is not a deepguard dependency: it is imported only when one of these
models is configured, and its absence is a one-line
:class:`~deepguard.errors.DependencyError`, never a traceback.

Interfaces, from the vendors' documentation:

* **VideoSeal** (``y_256b_img.jit``): ``model.detect(imgs)`` takes
  ``Bx3xHxW`` RGB in [0, 1] (the model resizes internally) and returns
  ``Bx(1+K)`` predictions, or ``Bx(1+K)xhxw`` maps that are averaged: channel
  0 is an unused detection mask, channels ``1..K`` are bit logits (positive
  means 1). There is no calibrated presence score, so presence is tested
  against a message the user expects: a binomial p-value of the matching
  bits, present at the false-positive rate. Without an expected message the
  result is undetectable and the decoded bits are reported.
* **AudioSeal** (a TorchScript export of ``AudioSealDetector``):
  ``model(x, 16000)`` takes ``Bx1xT`` float audio at 16 kHz and returns the
  per-frame probabilities ``Bx2xF`` (row 1: watermarked) and ``BxK`` message
  bit probabilities. The vendor's rule, followed here, is present when more
  than half of the frames are flagged above 0.5. That score is learned, not
  a false-positive probability, so ``p_value`` stays 1.0 unless an expected
  message is configured, when it is the binomial tail of its matching bits.

The post-processing is plain NumPy (:func:`videoseal_detection`,
:func:`audioseal_detection`) so that it is tested without PyTorch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from deepguard.errors import ConfigError, DependencyError, WatermarkError
from deepguard.watermark.base import DEFAULT_FPR, Detection, Status, z_for_p_value
from deepguard.watermark.thirdparty._model_base import (
    AudioModelDetector,
    ImageModelDetector,
    ModelKind,
)
from deepguard.watermark.thirdparty._stats import binomial_tail

__all__ = [
    "AudioSealDetector",
    "VideoSealDetector",
    "audioseal_detection",
    "import_torch",
    "videoseal_detection",
]

AUDIOSEAL_RATE = 16_000
AUDIOSEAL_THRESHOLD = 0.5  # per frame, and for the share of flagged frames
_Bits = npt.NDArray[np.uint8]


def import_torch(title: str) -> ModuleType:
    """PyTorch, or a one-line error saying what needed it.

    Raises:
        DependencyError: PyTorch is not installed (or fails to import).
    """
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        msg = (
            f"{title} detection needs PyTorch, which is not installed; install "
            "torch (the CPU build is enough) or remove the model from the "
            "configuration"
        )
        raise DependencyError(msg) from exc


def _load_script(torch: ModuleType, path: Path, title: str) -> Any:
    """``torch.jit.load`` on CPU, with load failures as one-line errors.

    Raises:
        ConfigError: the file is not a TorchScript archive.
    """
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, ValueError, pickle errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        msg = (
            f"not a TorchScript {title} model ({first[:160]}); export it with "
            "torch.jit.script or use the vendor's .jit file"
        )
        raise ConfigError(msg, path=path) from exc
    module.eval()
    return module


def _expected_matches(bits: _Bits, expected: _Bits | None) -> tuple[int | None, float]:
    """Matching bits and their fair-coin tail, or (None, 1.0) with nothing to test.

    Raises:
        WatermarkError: the expected message has another length than the model's.
    """
    if expected is None:
        return None, 1.0
    if expected.size != bits.size:
        msg = (
            f"expected message has {expected.size} bits but the model decodes "
            f"{bits.size}"
        )
        raise WatermarkError(msg)
    matches = int(np.count_nonzero(bits == expected))
    return matches, binomial_tail(matches, bits.size)


def _bit_string(bits: _Bits) -> str:
    return "".join(str(int(b)) for b in bits)


def videoseal_detection(
    preds: npt.NDArray[Any], expected: _Bits | None, *, fpr: float = DEFAULT_FPR
) -> Detection:
    """Decide from VideoSeal's ``detect`` output for one image.

    Raises:
        WatermarkError: ``preds`` does not have VideoSeal's shape.
    """
    out = np.asarray(preds, dtype=np.float64)
    if out.ndim == 4:
        out = out.mean(axis=(2, 3))
    if out.ndim != 2 or out.shape[0] != 1 or out.shape[1] < 2:
        msg = f"VideoSeal returned shape {preds.shape}, not 1x(1+K)"
        raise WatermarkError(msg)
    logits = out[0, 1:]
    bits = (logits > 0).astype(np.uint8)
    confidence = 1.0 / (1.0 + np.exp(-np.abs(logits)))
    matches, tail = _expected_matches(bits, expected)
    details: dict[str, Any] = {
        "decoded_bits": _bit_string(bits),
        "total_bits": bits.size,
    }
    common: dict[str, Any] = {
        "method": "videoseal",
        "bit_confidence": tuple(round(float(c), 4) for c in confidence),
        "details": details,
    }
    if matches is None:
        return Detection(
            status=Status.UNDETECTABLE,
            reason="VideoSeal has no presence score: configure the expected "
            "message to test for it",
            **common,
        )
    details["matching_bits"] = matches
    return Detection(
        status=Status.PRESENT if tail <= fpr else Status.ABSENT,
        p_value=tail,
        score=z_for_p_value(tail, 1),
        **common,
    )


def audioseal_detection(
    frames: npt.NDArray[Any],
    message: npt.NDArray[Any],
    expected: _Bits | None,
    *,
    fpr: float = DEFAULT_FPR,
) -> Detection:
    """Decide from AudioSeal's ``(frame probabilities, message)`` output.

    Raises:
        WatermarkError: the arrays do not have AudioSeal's shapes.
    """
    probs = np.asarray(frames, dtype=np.float64)
    msg_probs = np.asarray(message, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[:2] != (1, 2) or probs.shape[2] == 0:
        msg = f"AudioSeal returned frame probabilities of shape {probs.shape}"
        raise WatermarkError(msg)
    if msg_probs.ndim != 2 or msg_probs.shape[0] != 1:
        msg = f"AudioSeal returned a message of shape {msg_probs.shape}"
        raise WatermarkError(msg)
    flagged = float(np.mean(probs[0, 1] > AUDIOSEAL_THRESHOLD))
    bits = (msg_probs[0] > AUDIOSEAL_THRESHOLD).astype(np.uint8)
    matches, tail = _expected_matches(bits, expected)
    vendor_says = flagged > AUDIOSEAL_THRESHOLD
    present = vendor_says and (matches is None or tail <= fpr)
    details: dict[str, Any] = {
        "flagged_frames": round(flagged, 4),
        "frames": int(probs.shape[2]),
        "decoded_bits": _bit_string(bits),
        "vendor_rule": vendor_says,
    }
    if matches is not None:
        details["matching_bits"] = matches
    confidence = np.where(bits == 1, msg_probs[0], 1.0 - msg_probs[0])
    return Detection(
        status=Status.PRESENT if present else Status.ABSENT,
        p_value=tail,
        score=flagged,
        bit_confidence=tuple(round(float(c), 4) for c in confidence),
        method="audioseal",
        details=details,
    )


class VideoSealDetector(ImageModelDetector):
    """VideoSeal's TorchScript model, run on CPU one image or frame at a time."""

    kind: ClassVar[ModelKind] = "videoseal"
    method: ClassVar[str] = "videoseal"

    def __init__(self, torch: ModuleType, module: Any, expected: _Bits | None) -> None:
        self._torch = torch
        self._module = module
        self.expected = expected

    @classmethod
    def from_file(
        cls, path: Path, *, expected_bits: _Bits | None = None
    ) -> VideoSealDetector:
        """Load ``path`` with ``torch.jit.load``.

        Raises:
            DependencyError: PyTorch is not installed.
            ConfigError: the file is not a TorchScript model with ``detect``.
        """
        torch = import_torch("VideoSeal")
        module = _load_script(torch, path, "VideoSeal")
        if not hasattr(module, "detect"):
            msg = "TorchScript model has no detect() method: not a VideoSeal model"
            raise ConfigError(msg, path=path)
        return cls(torch, module, expected_bits)

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, fpr: float = DEFAULT_FPR
    ) -> Detection:
        if rgb.ndim != 3 or rgb.shape[2] < 3 or min(rgb.shape[:2]) == 0:
            return Detection.undetectable(self.method, "not an RGB image")
        torch = self._torch
        pixels = np.ascontiguousarray(rgb[..., :3].transpose(2, 0, 1)[np.newaxis])
        with torch.no_grad():
            tensor = torch.from_numpy(pixels).float() / 255.0
            preds = self._module.detect(tensor)
        return videoseal_detection(preds.cpu().numpy(), self.expected, fpr=fpr)


class AudioSealDetector(AudioModelDetector):
    """AudioSeal's detector as a TorchScript module, on CPU, at 16 kHz."""

    kind: ClassVar[ModelKind] = "audioseal"
    method: ClassVar[str] = "audioseal"
    sample_rate: ClassVar[int] = AUDIOSEAL_RATE

    def __init__(self, torch: ModuleType, module: Any, expected: _Bits | None) -> None:
        self._torch = torch
        self._module = module
        self.expected = expected

    @classmethod
    def from_file(
        cls, path: Path, *, expected_bits: _Bits | None = None
    ) -> AudioSealDetector:
        """Load ``path`` with ``torch.jit.load``.

        Raises:
            DependencyError: PyTorch is not installed.
            ConfigError: the file is not a TorchScript model.
        """
        torch = import_torch("AudioSeal")
        return cls(torch, _load_script(torch, path, "AudioSeal"), expected_bits)

    def detect(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        fpr: float = DEFAULT_FPR,
    ) -> Detection:
        if sample_rate != self.sample_rate:
            msg = (
                f"AudioSeal reads {self.sample_rate} Hz audio, got {sample_rate} Hz;"
                f" decode the audio at {self.sample_rate} Hz"
            )
            raise WatermarkError(msg)
        mono = np.asarray(samples, dtype=np.float32).reshape(-1)
        if mono.size < self.sample_rate // 10:
            return Detection.undetectable(
                self.method, "audio shorter than 0.1 s: too short for AudioSeal"
            )
        torch = self._torch
        with torch.no_grad():
            tensor = torch.from_numpy(np.ascontiguousarray(mono)).reshape(1, 1, -1)
            frames, message = self._module(tensor, self.sample_rate)
        return audioseal_detection(
            frames.cpu().numpy(), message.cpu().numpy(), self.expected, fpr=fpr
        )
