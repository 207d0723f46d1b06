"""The detector interface every capability plugs into.

A detector is a small class with a stable ``name``, a ``version`` recorded with
every scan (so verdicts are reproducible), ``supports`` to say which media it
applies to, and ``run`` returning findings. It never decides a verdict and
never modifies the file.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar, Self

from deepguard.media.item import MediaItem
from deepguard.scan.finding import Finding

if TYPE_CHECKING:
    from deepguard.config import Settings

__all__ = ["Detector"]


class Detector(abc.ABC):
    """Base class for detectors.

    ``metadata_only`` detectors read headers and metadata and never decode
    pixels or samples; a metadata-only scan runs just those.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    metadata_only: ClassVar[bool] = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the detector from configuration; override to read settings."""
        return cls()

    @abc.abstractmethod
    def supports(self, item: MediaItem) -> bool:
        """Whether this detector applies to ``item`` (by kind, MIME or container)."""

    @abc.abstractmethod
    def run(self, item: MediaItem) -> list[Finding]:
        """Inspect ``item`` and return findings.

        Raises:
            DeepguardError: the item cannot be inspected; the scanner records the
                error for this detector and carries on with the others.
        """
