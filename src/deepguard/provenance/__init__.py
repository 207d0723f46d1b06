"""Generator traces in metadata: C2PA, IPTC/XMP, tool parameters, AIGC labels.

The :class:`ProvenanceDetector` is the entry point; :mod:`.generators` holds
the table of known AI generators that every reader matches against.
"""

from __future__ import annotations

from deepguard.provenance.detector import ProvenanceDetector

__all__ = ["ProvenanceDetector"]
