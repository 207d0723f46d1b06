"""IPTC digital source types, as used by C2PA actions and XMP.

The same vocabulary (``http://cv.iptc.org/newscodes/digitalsourcetype/``)
is written in several spellings: the full URI, ``https``, the IPTC QCode
(``digsrctype:...``), a bare code, or an older C2PA namespace. Everything is
reduced to the bare code so the rules compare one string.
"""

from __future__ import annotations

from typing import Final

__all__ = ["AI_CODES", "SYNTHETIC_CODES", "source_code"]

AI_CODES: Final = frozenset(
    {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"}
)
"""Made by a model trained on sampled content: generative AI."""
SYNTHETIC_CODES: Final = frozenset({"algorithmicMedia", "compositeSynthetic"})
"""Made by an algorithm, not necessarily a trained model (synthetic)."""

_PREFIXES: Final = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
    "http://c2pa.org/digitalsourcetype/",
    "https://c2pa.org/digitalsourcetype/",
    "digsrctype:",
)
_CANONICAL: Final = {code.lower(): code for code in AI_CODES | SYNTHETIC_CODES}


def source_code(value: str) -> str | None:
    """The bare IPTC code of a digital source type value, or None.

    ``None`` means the value is not in the digital-source-type vocabulary
    at all (a URL elsewhere, free text). Known codes come back in their
    canonical spelling whatever the case they were written in.
    """
    text = value.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            code = text[len(prefix) :].strip("/")
            return _CANONICAL.get(code.lower(), code) or None
    return _CANONICAL.get(lowered)
