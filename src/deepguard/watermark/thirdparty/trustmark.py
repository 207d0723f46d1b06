"""TrustMark (Adobe) detection with the vendor's ONNX decoder.

The decoder interface, as TrustMark's Python package and its Rust crate use
it (read from their sources, not vendored):

* input ``1x3xSxS`` float32 RGB in [-1, 1]; ``S`` is 256 (224 for the ``P``
  variant). The image is first centre-cropped to a square when one side is
  more than twice the other (always for ``P``), then resized bilinearly;
* output ``1x100`` logits; a bit is 1 when its logit is not negative.

The 100 bits are a packet: data, BCH parity over GF(2^7) (primitive
polynomial 137), and 4 version bits whose last two name the schema:

==========  =========  ===========  ===============
schema      data bits  parity bits  corrects (bits)
==========  =========  ===========  ===============
BCH_SUPER   40         56           8
BCH_5       61         35           5
BCH_4       68         28           4
BCH_3       75         21           3
==========  =========  ===========  ===============

The data bits are packed most significant bit first and zero-padded to whole
bytes before the BCH code sees them, as TrustMark's Python reference does.

Why a p-value and not TrustMark's own "detected" flag: the flag only says the
BCH decoder accepted the word, which a random word does with probability
``V(n, t) / 2^parity`` per schema (about 7 % for BCH_3). We pay for every
schema tried and count what was actually corrected: a uniformly random
100-bit word decodes as this schema with at most ``c`` corrections with
probability ``V(n, c) / 2^parity``, times 1/16 when all four version bits
read exactly. An all-zero data field is refused outright: the all-zero word
is a codeword of every linear code, and a decoder that sees nothing outputs
it easily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import bchlib
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from deepguard.errors import ConfigError, WatermarkError
from deepguard.watermark.base import (
    DEFAULT_FPR,
    Detection,
    Status,
    z_for_p_value,
)
from deepguard.watermark.thirdparty._model_base import ImageModelDetector, ModelKind

__all__ = [
    "PACKET_BITS",
    "SCHEMAS",
    "Packet",
    "Schema",
    "TrustMarkDetector",
    "decode_packet",
]

PACKET_BITS = 100
VERSION_BITS = 4
BCH_POLYNOMIAL = 137  # x^7 + x^3 + 1: GF(2^7), codes of length up to 127
MIN_SIDE = 16
"""Images smaller than this on a side carry nothing a 256-pixel decoder can read."""


@dataclass(frozen=True, slots=True)
class Schema:
    """One of TrustMark's error-correction schemas."""

    name: str
    version: int
    data_bits: int
    t: int

    @property
    def parity_bits(self) -> int:
        return PACKET_BITS - VERSION_BITS - self.data_bits

    @property
    def version_field(self) -> str:
        return format(self.version, "04b")


SCHEMAS: tuple[Schema, ...] = (
    Schema("BCH_SUPER", 0, 40, 8),
    Schema("BCH_5", 1, 61, 5),
    Schema("BCH_4", 2, 68, 4),
    Schema("BCH_3", 3, 75, 3),
)


@dataclass(frozen=True, slots=True)
class Packet:
    """A received word the BCH code accepted."""

    schema: Schema
    data: str  # the corrected data bits, "0"/"1"
    corrected: int
    version_field_exact: bool
    p_value: float

    @property
    def text(self) -> str | None:
        """The data as TrustMark's 7-bit text mode wrote it, when it reads so.

        Read over the zero-padded bytes, as the reference does: a 9-character
        text has 63 bits, of which BCH_5 keeps 61; the 2 cut are padding
        zeros of the last character or lost with it.
        """
        padded = self.data + "0" * (-len(self.data) % 8)
        usable = len(padded) // 7 * 7
        chars = [chr(int(padded[i : i + 7], 2)) for i in range(0, usable, 7)]
        text = "".join(chars).rstrip("\x00").strip()
        if text and all(c.isprintable() for c in text):
            return text
        return None


def _pack(bits: str) -> bytearray:
    """MSB-first bytes, zero-padded to a whole byte."""
    padded = bits + "0" * (-len(bits) % 8)
    return bytearray(int(padded[i : i + 8], 2) for i in range(0, len(padded), 8))


def _ball(n: int, radius: int) -> int:
    """Words within Hamming distance ``radius`` of a given ``n``-bit word."""
    return sum(math.comb(n, k) for k in range(radius + 1))


def _try_schema(word: str, schema: Schema) -> Packet | None:
    data_end = schema.data_bits
    parity_end = data_end + schema.parity_bits
    data = _pack(word[:data_end])
    parity = _pack(word[data_end:parity_end])
    bch = bchlib.BCH(schema.t, prim_poly=BCH_POLYNOMIAL)
    if len(parity) != bch.ecc_bytes:
        return None
    corrected = bch.decode(bytes(data), bytes(parity))
    if corrected < 0 or corrected > schema.t:
        return None
    bch.correct(data, parity)
    unpacked = "".join(format(b, "08b") for b in data)
    if "1" in unpacked[data_end:]:
        return None  # a "correction" in the zero padding: not a codeword
    fixed = unpacked[:data_end]
    exact = word[parity_end:] == schema.version_field
    n = schema.data_bits + schema.parity_bits
    chance = _ball(n, corrected) / 2.0**schema.parity_bits
    if exact:
        chance /= 2**VERSION_BITS
    p_value = min(1.0, len(SCHEMAS) * chance)
    return Packet(schema, fixed, corrected, exact, p_value)


def decode_packet(bits: npt.NDArray[Any]) -> Packet | None:
    """Decode 100 received bits; None when no schema's code accepts them.

    The schema the version bits name is tried first (TrustMark's Python
    reader stops there); the others follow, as TrustMark's Rust reader does,
    so that a flipped version bit does not lose the mark. The p-value pays
    for all four.

    Raises:
        WatermarkError: not 100 bits.
    """
    flat = np.asarray(bits).reshape(-1)
    if flat.size != PACKET_BITS:
        msg = f"TrustMark packets have {PACKET_BITS} bits, got {flat.size}"
        raise WatermarkError(msg)
    word = "".join("1" if b else "0" for b in flat)
    named = int(word[-2:], 2)
    ordered = sorted(SCHEMAS, key=lambda s: s.version != named)
    for schema in ordered:
        packet = _try_schema(word, schema)
        if packet is not None:
            return packet
    return None


def _static_dim(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _model_error(path: Path, problem: str) -> ConfigError:
    msg = f"not a TrustMark decoder: {problem}"
    return ConfigError(msg, path=path)


class TrustMarkDetector(ImageModelDetector):
    """TrustMark's ONNX decoder, checked at load time, run on CPU."""

    kind: ClassVar[ModelKind] = "trustmark"
    method: ClassVar[str] = "trustmark"

    def __init__(
        self,
        session: ort.InferenceSession,
        *,
        input_name: str,
        size: int,
        variant: str,
        path: Path,
    ) -> None:
        self._session = session
        self._input_name = input_name
        self.size = size
        self.variant = variant
        self.path = path

    @classmethod
    def from_file(cls, path: Path, *, variant: str = "Q") -> TrustMarkDetector:
        """Open and validate a decoder file.

        Raises:
            ConfigError: the file is not an ONNX model, or not one with
                TrustMark's decoder interface.
        """
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no warnings on stderr
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            msg = f"not a valid ONNX model ({first[:200]})"
            raise ConfigError(msg, path=path) from exc
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1:
            raise _model_error(path, f"it takes {len(inputs)} inputs, not 1 image")
        shape = list(inputs[0].shape)
        if len(shape) != 4 or _static_dim(shape[1]) not in (None, 3):
            raise _model_error(path, f"its input is {shape}, not 1x3xHxW")
        if inputs[0].type != "tensor(float)":
            raise _model_error(path, f"its input is {inputs[0].type}, not float")
        default = 224 if variant == "P" else 256
        height, width = _static_dim(shape[2]), _static_dim(shape[3])
        if height is not None and width is not None and height != width:
            raise _model_error(path, f"its input is {height}x{width}, not square")
        size = height or width or default
        if not outputs or len(outputs[0].shape) != 2:
            raise _model_error(path, "its first output is not a batch of bit logits")
        bits = _static_dim(outputs[0].shape[1])
        if bits not in (None, PACKET_BITS):
            raise _model_error(path, f"it outputs {bits} bits, not {PACKET_BITS}")
        return cls(
            session, input_name=inputs[0].name, size=size, variant=variant, path=path
        )

    def _tensor(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """TrustMark's decoder input: crop, bilinear resize, [-1, 1], NCHW."""
        height, width = rgb.shape[:2]
        image = Image.fromarray(np.ascontiguousarray(rgb[..., :3]), "RGB")
        if self.variant == "P" or max(height, width) > 2 * min(height, width):
            side = min(height, width)
            left, top = (width - side) // 2, (height - side) // 2
            image = image.crop((left, top, left + side, top + side))
        image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32) / np.float32(127.5) - 1
        tensor: npt.NDArray[np.float32] = np.ascontiguousarray(
            pixels.transpose(2, 0, 1)[np.newaxis]
        )
        return tensor

    def logits(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The decoder's 100 raw logits for ``rgb``.

        Raises:
            WatermarkError: the model's output is not 100 finite numbers.
        """
        try:
            (raw, *_) = self._session.run(None, {self._input_name: self._tensor(rgb)})
        except Exception as exc:  # onnxruntime's errors are untyped
            msg = f"TrustMark decoder failed: {str(exc).splitlines()[0][:200]}"
            raise WatermarkError(msg, path=self.path) from exc
        out = np.asarray(raw, dtype=np.float32).reshape(-1)
        if out.size != PACKET_BITS or not np.all(np.isfinite(out)):
            msg = f"TrustMark decoder returned {out.size} values, not 100 finite logits"
            raise WatermarkError(msg, path=self.path)
        return out

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, fpr: float = DEFAULT_FPR
    ) -> Detection:
        """Decode the packet in ``rgb`` and decide, see the module docstring.

        Raises:
            WatermarkError: the model produced output it should not.
        """
        if rgb.ndim != 3 or rgb.shape[2] < 3:
            return Detection.undetectable(self.method, "not an RGB image")
        if min(rgb.shape[:2]) < MIN_SIDE:
            height, width = rgb.shape[:2]
            return Detection.undetectable(
                self.method,
                f"image is {width}x{height}; TrustMark needs at least "
                f"{MIN_SIDE} pixels a side",
            )
        logits = self.logits(rgb)
        packet = decode_packet(logits >= 0)
        details: dict[str, Any] = {"variant": self.variant, "decode_size": self.size}
        if packet is None:
            details["reason"] = "no schema's BCH code accepts the bits"
            return Detection(Status.ABSENT, method=self.method, details=details)
        degenerate = "1" not in packet.data
        details |= {
            "schema": packet.schema.name,
            "data_bits": packet.data,
            "text": packet.text,
            "corrected_bits": packet.corrected,
            "version_field_exact": packet.version_field_exact,
        }
        if degenerate:
            details["reason"] = "all-zero data: what a decoder outputs for nothing"
        present = not degenerate and packet.p_value <= fpr
        confidence = 1.0 / (1.0 + np.exp(-np.abs(logits[: packet.schema.data_bits])))
        return Detection(
            status=Status.PRESENT if present else Status.ABSENT,
            p_value=1.0 if degenerate else packet.p_value,
            score=0.0 if degenerate else z_for_p_value(packet.p_value, 1),
            bit_confidence=tuple(round(float(c), 4) for c in confidence),
            method=self.method,
            details=details,
        )
