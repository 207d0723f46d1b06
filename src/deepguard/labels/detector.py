"""The labels detector: GB 45438 implicit labels and their integrity, in scans.

Finding kinds (see ``docs/scan-schema.md``):

* ``label.implicit`` - a parseable AIGC label; ``details.valid`` says whether
  it is compliant and no signature on it fails. The verdict policy trusts
  only valid labels to decide class ``"1"``; a broken one is a trace.
* ``label.noncompliant`` - the label breaks Annex E (missing or malformed
  fields, several or conflicting copies, unparseable JSON); one finding with
  every reason.
* ``label.signature_invalid`` - a deepguard signature in ``ReservedCode1/2``
  does not verify: the content was edited after labelling, or the label was
  forged.
* ``label.signature_unverified`` - a signature whose key is not in the trust
  directory, or integrity data in a foreign format (informational).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self

from deepguard.errors import ConfigError
from deepguard.labels.fields import LabelStatus
from deepguard.labels.implicit.registry import carriers
from deepguard.labels.inspect import Inspection, inspect_label
from deepguard.labels.integrity import SignatureStatus
from deepguard.labels.keys import TrustedKeys
from deepguard.media.item import MediaItem
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding

if TYPE_CHECKING:
    from deepguard.config import Settings

__all__ = ["LabelsDetector", "findings_from_inspection"]


class LabelsDetector(Detector):
    """Reads, validates and verifies the implicit label of every labelled format."""

    name: ClassVar[str] = "labels"
    version: ClassVar[str] = "1"
    metadata_only: ClassVar[bool] = True

    def __init__(self, trusted: TrustedKeys | None = None) -> None:
        self.trusted = trusted or TrustedKeys.empty()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        try:
            trusted = TrustedKeys.from_directory(settings.trust_dir)
        except ConfigError:
            trusted = TrustedKeys.empty()  # no trust directory yet: nothing trusted
        return cls(trusted)

    def supports(self, item: MediaItem) -> bool:
        return any(c.handles(item.probe) for c in carriers())

    def run(self, item: MediaItem) -> list[Finding]:
        inspection = inspect_label(
            item.path, limits=item.limits, trusted=self.trusted, probed=item.probe
        )
        return findings_from_inspection(inspection, detector=self.name)


def findings_from_inspection(inspection: Inspection, *, detector: str) -> list[Finding]:
    """Findings for one inspected file (shared by scans and propagation)."""
    reading = inspection.reading
    if reading.status in (LabelStatus.NOT_FOUND, LabelStatus.INCONCLUSIVE):
        return []
    where = {"carrier": reading.carrier}
    findings: list[Finding] = []
    invalid = [c for c in inspection.signatures if c.status is SignatureStatus.INVALID]
    compliant = reading.status is LabelStatus.COMPLIANT
    if reading.fields is not None:
        fields = reading.fields
        valid = compliant and not invalid
        state = "valid" if valid else "present but broken"
        findings.append(
            Finding(
                detector=detector,
                kind="label.implicit",
                confidence=1.0 if valid else 0.6,
                summary=f"GB 45438 label {fields.label} by {fields.content_producer}"
                f" ({state})",
                details={
                    "label": fields.label,
                    "valid": valid,
                    "fields": fields.to_dict(),
                    "locations": [c.raw.location for c in reading.copies],
                    "warnings": list(reading.warnings),
                    "signatures": [c.to_dict() for c in inspection.signatures],
                },
                where=where,
            )
        )
    if not compliant:
        findings.append(
            Finding(
                detector=detector,
                kind="label.noncompliant",
                confidence=1.0,
                summary=f"label breaks GB 45438 Annex E: {reading.problems[0]}"
                + (
                    f" (+{len(reading.problems) - 1} more)"
                    if len(reading.problems) > 1
                    else ""
                ),
                details={"problems": list(reading.problems)},
                where=where,
            )
        )
    for check in invalid:
        findings.append(
            Finding(
                detector=detector,
                kind="label.signature_invalid",
                confidence=1.0,
                summary=f"{check.field} ({check.role} {check.provider_code}) does not "
                "verify: content edited after labelling, or a forged label",
                details=check.to_dict(),
                where=where,
            )
        )
    for check in inspection.signatures:
        if check.status in (SignatureStatus.UNKNOWN_KEY, SignatureStatus.UNVERIFIABLE):
            findings.append(
                Finding(
                    detector=detector,
                    kind="label.signature_unverified",
                    confidence=1.0,
                    summary=f"{check.field} not verified: {check.reason}",
                    details=check.to_dict(),
                    where=where,
                )
            )
    if inspection.digest_error:
        findings.append(
            Finding(
                detector=detector,
                kind="label.signature_unverified",
                confidence=1.0,
                summary=f"signature not verified: {inspection.digest_error}",
                details={"error": inspection.digest_error},
                where=where,
            )
        )
    return findings
