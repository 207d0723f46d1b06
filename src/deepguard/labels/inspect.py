"""Inspect one file's implicit label: read it, check it, verify its signatures.

This is the fast path behind ``deepguard inspect`` and the labels detector.
It reads metadata only; the content digest (which for audio and video means
demuxing every packet) is computed only when the label carries a deepguard
signature to verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepguard.config import Limits
from deepguard.errors import DeepguardError
from deepguard.labels.fields import LabelReading
from deepguard.labels.implicit.registry import content_digest, read_label
from deepguard.labels.integrity import (
    SignatureCheck,
    SignatureStatus,
    verify_signatures,
)
from deepguard.labels.keys import TrustedKeys
from deepguard.labels.signing import SignatureToken
from deepguard.media.probe import ProbeResult, probe

__all__ = ["Inspection", "inspect_label"]


@dataclass(frozen=True, slots=True)
class Inspection:
    """A file's label reading plus the verdict on its integrity fields."""

    path: Path
    reading: LabelReading
    signatures: tuple[SignatureCheck, ...] = ()
    digest_error: str | None = None

    @property
    def signature_invalid(self) -> bool:
        return any(c.status is SignatureStatus.INVALID for c in self.signatures)

    def to_dict(self) -> dict[str, Any]:
        out = {"path": str(self.path), **self.reading.to_dict()}
        out["signatures"] = [c.to_dict() for c in self.signatures]
        if self.digest_error:
            out["digest_error"] = self.digest_error
        return out


def inspect_label(
    path: Path,
    *,
    limits: Limits | None = None,
    trusted: TrustedKeys | None = None,
    probed: ProbeResult | None = None,
) -> Inspection:
    """Read, validate and (where signed) verify the label of ``path``.

    Raises:
        DeepguardError: the file cannot be read or has no label carrier.
    """
    limits = limits or Limits()
    probed = probed or probe(path, max_file_bytes=limits.max_file_bytes)
    reading = read_label(path, limits=limits, probed=probed)
    fields = reading.fields
    if fields is None:
        return Inspection(path, reading)
    tokens = [
        SignatureToken.parse(v) for v in (fields.reserved_code1, fields.reserved_code2)
    ]
    if not any(tokens):
        checks = verify_signatures(fields, "", TrustedKeys.empty())
        return Inspection(path, reading, tuple(checks))
    trusted = trusted or TrustedKeys.empty()
    try:
        digest = content_digest(path, limits=limits, probed=probed)
    except DeepguardError as exc:
        return Inspection(path, reading, digest_error=str(exc))
    checks = verify_signatures(fields, digest, trusted)
    return Inspection(path, reading, tuple(checks))
