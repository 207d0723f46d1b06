"""Demo media: deterministic sample files with known verdicts, and benchmark corpora.

``deepguard demo`` and the benchmarks use these so that anyone can see the
scanner work, and check it, without downloading media of unknown licence.
"""

from __future__ import annotations

from deepguard.demo.samples import SampleSpec, generate_mixed_corpus, generate_samples

__all__ = ["SampleSpec", "generate_mixed_corpus", "generate_samples"]
