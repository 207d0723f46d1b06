"""The explicit-labels detector: visible AI notices and the audio rhythm cue.

Decodes content (so it is skipped by metadata-only scans): images and video
frames go through OCR (the opening 2 s of video densely, then periodically),
audio through the cue detector. Finding kinds:

* ``label.explicit`` - an AI-label phrase is on screen; ``details.status`` is
  ``compliant``, ``too_small``, ``wrong_position``, ``too_short`` or
  ``incomplete`` (an AI notice lacking 生成/合成, e.g. "Made with AI"), with the
  best hit's box, height ratio, position and timestamps;
* ``label.audio_cue`` - the "short long short short" cue, with timestamps.

Absence is not a finding: most content carries no explicit label, and the
verdict needs only what was seen.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar, Self

from deepguard.media.item import MediaItem
from deepguard.media.probe import MediaKind
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding

if TYPE_CHECKING:
    from deepguard.config import Settings
    from deepguard.labels.explicit.detect_visual import DetectOptions

__all__ = ["ExplicitLabelsDetector"]

_SUMMARY = {
    "compliant": "compliant explicit AI label",
    "too_small": "explicit AI label below 5% of the short side",
    "wrong_position": "explicit AI label not on an edge or corner",
    "too_short": "explicit AI label on screen for less than the opening 2 s",
    "incomplete": "AI notice without the generation element (生成/合成)",
}


class ExplicitLabelsDetector(Detector):
    """OCR for visible notices in images and video; the cue in audio."""

    name: ClassVar[str] = "explicit_labels"
    version: ClassVar[str] = "1"
    metadata_only: ClassVar[bool] = False

    def __init__(self, periodic_step_s: float = 5.0) -> None:
        self.periodic_step_s = periodic_step_s

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(periodic_step_s=settings.labels.video_sample_interval_s)

    def supports(self, item: MediaItem) -> bool:
        return item.kind in (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO)

    def _options(self) -> DetectOptions:
        from deepguard.labels.explicit.detect_visual import DetectOptions

        return DetectOptions(periodic_step_s=self.periodic_step_s)

    def run(self, item: MediaItem) -> list[Finding]:
        if item.kind is MediaKind.AUDIO:
            return self._audio(item)
        from deepguard.labels.explicit.detect_visual import (
            detect_image_file,
            detect_video_file,
        )

        report: Any
        if item.kind is MediaKind.IMAGE:
            report = detect_image_file(
                item.path, limits=item.limits, options=self._options()
            )
        else:
            report = detect_video_file(
                item.path, limits=item.limits, options=self._options()
            )
        status = str(report.status)
        if status == "absent":
            return []
        details = report.to_dict()
        best = details.get("best") or {}
        return [
            Finding(
                detector=self.name,
                kind="label.explicit",
                confidence=float(best.get("score", 0.9) or 0.9),
                summary=f"{_SUMMARY.get(status, status)}: "
                f"{best.get('ocr_text') or best.get('phrase', '')!r}",
                details=details,
                where={"bounds": best.get("bounds"), "position": best.get("position")}
                if best
                else None,
            )
        ]

    def _audio(self, item: MediaItem) -> list[Finding]:
        from deepguard.labels.explicit.audio_cue import detect_cue_in_file

        report = detect_cue_in_file(item.path, limits=item.limits)
        if not report.hits:
            return []
        hits = [
            {**asdict(placed.hit), "position": str(placed.position)}
            for placed in report.hits
        ]
        first = report.hits[0].hit
        where = ", ".join(sorted({str(p) for p in report.positions}))
        return [
            Finding(
                detector=self.name,
                kind="label.audio_cue",
                confidence=max(h.hit.confidence for h in report.hits),
                summary=f"AI rhythm cue heard {len(hits)} time(s) ({where}), "
                f"first at {first.start_s:.2f} s",
                details={"status": str(report.status), "hits": hits},
                where={"start_s": first.start_s, "end_s": first.end_s},
            )
        ]
