"""Implicit (metadata) AIGC labels: one carrier per file format.

Use :func:`read_label`, :func:`write_label` and :func:`content_digest`; they
choose the carrier from the file's content.
"""

from __future__ import annotations

from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.labels.implicit.registry import (
    carrier_for,
    carriers,
    content_digest,
    read_label,
    write_label,
)

__all__ = [
    "Carrier",
    "CarrierRead",
    "carrier_for",
    "carriers",
    "content_digest",
    "read_label",
    "write_label",
]
