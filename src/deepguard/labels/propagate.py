"""The platform side (Art. 6): classify an upload and write propagation fields.

The decision follows the Measures in order:

1. the file's metadata carries a valid implicit label, or an equivalent
   (a validating C2PA AI manifest, IPTC trained-algorithm source): ``"1"``,
   notice "AI-generated";
2. otherwise the uploader declared the content AI-generated: ``"2"``, notice
   "may be AI-generated";
3. otherwise explicit labels or other traces were detected: ``"3"``, notice
   "suspected AI-generated";
4. otherwise nothing is written.

In the three labelled cases the platform writes ``ContentPropagator``,
``PropagateID`` and ``ReservedCode2`` (its signature, when it has a key) and
keeps every producer field as found, so the producer's signature stays
valid. A file with no producer label gets a first label written by the
platform, whose producer fields then equal its propagator fields.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepguard._atomic import output_path
from deepguard.config import Settings
from deepguard.errors import DeepguardError
from deepguard.labels.apply import new_id
from deepguard.labels.fields import AigcFields
from deepguard.labels.implicit.registry import content_digest, write_label
from deepguard.labels.integrity import sign_propagator
from deepguard.labels.keys import signing_key
from deepguard.scan.finding import Finding
from deepguard.scan.result import ScanResult
from deepguard.scan.scanner import Scanner

__all__ = ["NOTICES", "PropagationDecision", "propagate_file"]

NOTICES: dict[str, str] = {
    "1": "AI生成 AI-generated",
    "2": "可能为AI生成 May be AI-generated",
    "3": "疑似AI生成 Suspected AI-generated",
}
"""The display notice for each Art. 6 class (both GB elements in each)."""


@dataclass(slots=True)
class PropagationDecision:
    """The machine-readable outcome of one propagation."""

    source: Path
    label: str | None
    reasons: list[str]
    declared_ai: bool
    output: Path | None = None
    producer: dict[str, str] | None = None
    written: dict[str, str] | None = None
    signed: bool = False
    display_notice: str | None = None
    notes: list[str] = field(default_factory=list)
    scan: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "deepguard.propagation/1",
            "source": str(self.source),
            "label": self.label,
            "notice": NOTICES.get(self.label or ""),
            "reasons": list(self.reasons),
            "declared_ai": self.declared_ai,
            "output": str(self.output) if self.output else None,
            "producer": self.producer,
            "written": self.written,
            "signed": self.signed,
            "display_notice": self.display_notice,
            "notes": list(self.notes),
            "scan_verdict": self.scan,
        }


def _label_finding(findings: list[Finding]) -> Finding | None:
    for finding in findings:
        if finding.kind == "label.implicit":
            return finding
    return None


def classify(result: ScanResult, *, declared_ai: bool) -> tuple[str | None, list[str]]:
    """Art. 6 class and reasons from a scan result and the declaration."""
    verdict = result.verdict
    reasons = list(verdict.reasons) if verdict else []
    if verdict and verdict.aigc_label is not None and verdict.aigc_label != "3":
        return verdict.aigc_label, reasons
    if declared_ai:
        return "2", ["the uploader declared the content AI-generated", *reasons]
    if verdict and verdict.aigc_label == "3":
        return "3", reasons
    return None, ["no implicit label, no declaration and no AI traces found"]


def propagate_file(
    src: Path,
    *,
    settings: Settings,
    platform_code: str,
    declared_ai: bool = False,
    display_label: bool = False,
    propagate_id: str | None = None,
    out: Path | None = None,
    in_place: bool = False,
    sign: bool | None = None,
    scanner: Scanner | None = None,
) -> PropagationDecision:
    """Classify ``src`` under Art. 6 and write the propagation fields.

    Raises:
        ValueError: neither or both of ``out`` and ``in_place``.
        DeepguardError: the file cannot be read, scanned or labelled.
    """
    dst = output_path(src, out, in_place)
    scanner = scanner or Scanner.from_settings(settings)
    result = scanner.scan_path(src)
    if result.file.sha256 is None and result.errors:
        raise DeepguardError(result.errors[0].message, path=src)
    label, reasons = classify(result, declared_ai=declared_ai)
    decision = PropagationDecision(
        source=src,
        label=label,
        reasons=reasons,
        declared_ai=declared_ai,
        scan=result.verdict.to_dict() if result.verdict else None,
    )
    decision.notes += [f"scan error: {e.message}" for e in result.errors]
    if label is None:
        decision.notes.append("nothing written: Art. 6 asks for no label")
        return decision
    propagate_id = propagate_id or new_id()
    fields = _fields_to_write(
        result.findings, label, platform_code, propagate_id, decision
    )
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deepguard-", dir=dst.parent) as tmp:
        stage = src
        if display_label:
            from deepguard.labels.display import render_notice

            nxt = Path(tmp) / f"display{src.suffix}"
            render_notice(stage, nxt, text=NOTICES[label], settings=settings)
            decision.display_notice = NOTICES[label]
            stage = nxt
        key = signing_key(settings.keys_dir, platform_code, sign)
        if key is not None:
            digest = content_digest(stage, limits=settings.limits)
            fields = sign_propagator(fields, digest, key[1])
            decision.signed = True
        elif sign is None:
            decision.notes.append(
                f"ReservedCode2 left empty: no signing key for {platform_code}"
            )
        final = Path(tmp) / f"propagated{src.suffix}"
        write_label(stage, fields, out=final, limits=settings.limits)
        os.chmod(final, 0o644)
        os.replace(final, dst)
    decision.output = dst
    decision.written = fields.to_dict()
    return decision


def _fields_to_write(
    findings: list[Finding],
    label: str,
    platform_code: str,
    propagate_id: str,
    decision: PropagationDecision,
) -> AigcFields:
    found = _label_finding(findings)
    if found is not None:
        producer = AigcFields.from_mapping(dict(found.details.get("fields") or {}))
        decision.producer = producer.to_dict()
        fields = producer.replace(
            content_propagator=platform_code,
            propagate_id=propagate_id,
            reserved_code2="",
        )
        problems = fields.problems()
        if not problems:
            return fields
        decision.notes.append(
            f"producer label replaced because it cannot be kept: {problems[0]}"
        )
    return AigcFields(
        label=label,
        content_producer=platform_code,
        produce_id=propagate_id,
        content_propagator=platform_code,
        propagate_id=propagate_id,
    )
