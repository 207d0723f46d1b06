"""GB 45438-2025 labels: implicit metadata, explicit notices, integrity, C2PA."""

from __future__ import annotations

from deepguard.labels.fields import (
    AigcFields,
    LabelReading,
    LabelStatus,
    ParsedLabel,
    RawLabel,
)

__all__ = ["AigcFields", "LabelReading", "LabelStatus", "ParsedLabel", "RawLabel"]
