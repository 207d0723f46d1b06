"""The watermark detector: deepguard's marks and third-party ones, in scans.

Finding kinds (see ``docs/scan-schema.md``):

* ``watermark.deepguard`` - deepguard's image, video or audio mark is present
  (p-value at most the configured false-positive rate). ``details`` carry
  the payload, the producer tag and content ID, and the label records it maps
  to (the producer's GB 45438 fields), so the verdict can tell a stripped or
  altered label.
* ``watermark.third_party`` - another generator's invisible mark is present:
  Stable Diffusion's (v1, 2.x, XL) or a vendor model's the user configured
  (TrustMark, VideoSeal, AudioSeal). A trace of generation, not a label.
* ``watermark.undetectable`` - informational: the item cannot reveal a mark
  (too small, too short, silent), with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Self

from deepguard.media.item import MediaItem
from deepguard.media.probe import MediaKind
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding
from deepguard.store.interface import ILabelRecordStore, LabelRecord
from deepguard.watermark.audio import METHOD as AUDIO_METHOD
from deepguard.watermark.base import DEFAULT_FPR, Detection, Status, WatermarkKey
from deepguard.watermark.files import detect_file
from deepguard.watermark.image import METHOD as IMAGE_METHOD
from deepguard.watermark.recover import find_records
from deepguard.watermark.thirdparty.detector import ThirdPartyDetector
from deepguard.watermark.video import METHOD as VIDEO_METHOD

if TYPE_CHECKING:
    from deepguard.config import Settings

__all__ = ["WatermarkDetector"]

RecordSource = Callable[[], ILabelRecordStore | None]
_KINDS = frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO})
_OWN_METHODS = frozenset({IMAGE_METHOD, VIDEO_METHOD, AUDIO_METHOD})


class WatermarkDetector(Detector):
    """Decodes pixels and looks for deepguard's mark."""

    name: ClassVar[str] = "watermark"
    version: ClassVar[str] = "1"
    metadata_only: ClassVar[bool] = False

    def __init__(
        self,
        key: WatermarkKey | None = None,
        *,
        fpr: float = DEFAULT_FPR,
        records: RecordSource | None = None,
        third_party: ThirdPartyDetector | None = None,
    ) -> None:
        self.key = key or WatermarkKey()
        self.fpr = fpr
        self._records = records or (lambda: None)
        self.third_party = third_party or ThirdPartyDetector(fpr=fpr)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        @functools.cache
        def records() -> ILabelRecordStore | None:
            # Opened on the first mark found: most scans never need it.
            from deepguard.store.sql.store import SqlStore

            settings.home.mkdir(parents=True, exist_ok=True)
            return SqlStore.open(settings.resolved_database_url)

        marks = settings.watermark
        # Vendor models load here, so a missing model file fails at start-up
        # with a one-line ConfigError rather than on the first upload.
        third_party = ThirdPartyDetector.from_settings(marks)
        return cls(
            WatermarkKey.from_text(marks.key),
            fpr=marks.fpr,
            records=records,
            third_party=third_party,
        )

    def supports(self, item: MediaItem) -> bool:
        return item.kind in _KINDS

    def run(self, item: MediaItem) -> list[Finding]:
        detections = detect_file(
            item.path,
            key=self.key,
            fpr=self.fpr,
            limits=item.limits,
            third_party=self.third_party,
        )
        findings: list[Finding] = []
        for detection in detections:
            if detection.status is Status.UNDETECTABLE:
                findings.append(self._undetectable(detection))
            elif detection.present and detection.method in _OWN_METHODS:
                findings.append(self._own(detection))
            elif detection.present:
                findings.append(self._third_party(detection))
        return findings

    def _own(self, detection: Detection) -> Finding:
        payload = detection.payload
        records: list[LabelRecord] = []
        if payload is not None:
            store = self._records()
            if store is not None:
                records = find_records(store, payload)
        producer = records[0].producer if records else None
        if payload is None:
            summary = "deepguard watermark present; its payload did not decode"
        elif producer:
            summary = (
                f"deepguard watermark names producer {producer} "
                f"(ProduceID {records[0].produce_id})"
            )
        else:
            summary = (
                f"deepguard watermark with producer tag {payload.producer_tag:05x}; "
                "no label record for it in this store"
            )
        return Finding(
            detector=self.name,
            kind="watermark.deepguard",
            confidence=1.0 - detection.p_value,
            summary=summary,
            details={
                **detection.to_dict(),
                "content_id": payload.content_id if payload else None,
                "producer": producer,
                "records": [r.fields for r in records[:5]],
            },
        )

    def _third_party(self, detection: Detection) -> Finding:
        return Finding(
            detector=self.name,
            kind="watermark.third_party",
            confidence=1.0 - detection.p_value,
            summary=(
                f"{detection.method} invisible watermark present "
                f"(p = {detection.p_value:.2g})"
            ),
            details=detection.to_dict(),
        )

    def _undetectable(self, detection: Detection) -> Finding:
        return Finding(
            detector=self.name,
            kind="watermark.undetectable",
            confidence=1.0,
            summary=f"cannot carry or detect a watermark: {detection.reason}",
            details=detection.to_dict(),
        )
