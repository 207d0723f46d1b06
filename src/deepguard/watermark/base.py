"""Types every deepguard watermark channel shares: the key and the detection.

Why one detection type for images, video and audio: the scanner, the CLI and
the label-recovery step treat a mark the same way whatever carried it: is it
there, how sure are we (a false-positive probability, not a bare score), and
what payload did it carry.
"""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepguard.watermark.payload import Payload

__all__ = [
    "DEFAULT_FPR",
    "Detection",
    "Status",
    "WatermarkKey",
    "p_value_of_max",
]

DEFAULT_FPR = 1e-6
"""Default false-positive probability per item that a detector accepts."""


@dataclass(frozen=True, slots=True)
class WatermarkKey:
    """The secret that spreads the mark; embedder and detector must share it.

    The default key is public, so that every platform can read the marks that
    every provider embeds, as GB 45438 intends for implicit labels. A provider
    that wants a private mark sets its own secret (``watermark.key``).
    """

    secret: bytes = b"deepguard/aigc-mark/v1"

    @classmethod
    def from_text(cls, text: str | None) -> WatermarkKey:
        return cls() if not text else cls(text.encode("utf-8"))

    def rng(self, purpose: str) -> np.random.Generator:
        """A generator seeded by the key and what it is for, never reused."""
        digest = hashlib.blake2b(
            purpose.encode("utf-8"), key=self.secret[:64], digest_size=32
        ).digest()
        return np.random.default_rng(np.frombuffer(digest, dtype=np.uint64))

    @property
    def fingerprint(self) -> str:
        """Eight hex digits that name the key in results, never the secret."""
        return hashlib.blake2b(self.secret, digest_size=4).hexdigest()


class Status(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    UNDETECTABLE = "undetectable"  # the input cannot carry or reveal a mark


@dataclass(frozen=True, slots=True)
class Detection:
    """What a detector found in one image, video or audio stream.

    Attributes:
        status: present, absent, or undetectable (``reason`` says why: too
            small, silent, too short, unreadable).
        p_value: the probability that unmarked content scores at least
            ``score``; the mark is present when it is at most the configured
            false-positive rate. 1.0 when nothing could be measured.
        score: the detection statistic (a z-score for deepguard's marks).
        payload: the decoded payload when the error-correcting code accepted
            the received word, else None.
        bit_confidence: per payload bit, the probability that it is right,
            from the soft values (empty when nothing was decoded).
        method: which mark this is (``deepguard-image``, ``sdxl`` ...).
        details: method-specific measurements (estimated scale, rotation ...).
        reason: why the status is undetectable, in one line.
    """

    status: Status
    p_value: float = 1.0
    score: float = 0.0
    payload: Payload | None = None
    bit_confidence: tuple[float, ...] = ()
    method: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    @property
    def present(self) -> bool:
        return self.status is Status.PRESENT

    @classmethod
    def undetectable(cls, method: str, reason: str) -> Detection:
        return cls(status=Status.UNDETECTABLE, method=method, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for reports, the CLI and the HTTP API."""
        return {
            "status": self.status.value,
            "method": self.method,
            "p_value": self.p_value,
            "score": round(self.score, 3),
            "payload": self.payload.hex() if self.payload else None,
            "producer_tag": self.payload.producer_tag if self.payload else None,
            "mean_bit_confidence": (
                round(float(np.mean(self.bit_confidence)), 4)
                if self.bit_confidence
                else None
            ),
            "details": self.details,
            "reason": self.reason,
        }


def p_value_of_max(z: float, trials: float) -> float:
    """P(max of ``trials`` independent N(0,1) >= z): the search is accounted for.

    Why: a detector that tries many shifts, scales or flips and keeps the best
    must pay for every try, or its false-positive rate is a lie. Computed in
    log space so it stays accurate down to 1e-300.
    """
    if trials < 1:
        msg = "trials must be at least 1"
        raise ValueError(msg)
    tail = 0.5 * math.erfc(z / math.sqrt(2.0))
    if tail <= 0.0:
        return 0.0
    if tail > 1e-8:
        return float(-math.expm1(trials * math.log1p(-tail)))
    return min(1.0, trials * tail)


def z_for_p_value(p_value: float, trials: float) -> float:
    """The z a maximum over ``trials`` must reach for a given p-value."""
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if p_value_of_max(mid, trials) > p_value:
            lo = mid
        else:
            hi = mid
    return hi
