"""Findings and verdicts: the data a scan produces.

A ``Finding`` is evidence, never a decision: one detector saw one thing in one
place. The ``Verdict`` is derived from all findings by one policy
(:mod:`deepguard.scan.verdict`), so that the rules a platform applies live in
one reviewable function and detectors stay reusable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["AigcLabel", "Finding", "Impersonation", "Verdict"]

AigcLabel = Literal["1", "2", "3"]
"""Art. 6 classes: 1 AI-generated, 2 possibly AI (declared), 3 suspected AI."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation by one detector.

    Attributes:
        detector: name of the detector that made it.
        kind: a stable machine-readable type, e.g. ``c2pa.manifest`` or
            ``png.sd_parameters``; the verdict policy keys on it.
        confidence: 0 to 1, how sure the detector is that the observation is real
            (a signed manifest that validates is 1.0; a fuzzy name match less).
        summary: one human-readable line.
        details: the exact fields and values that support the finding.
        where: location in the file (byte offset, chunk, timestamp, box) or None.
    """

    detector: str
    kind: str
    confidence: float
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    where: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            msg = f"confidence must be within 0..1, got {self.confidence}"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "kind": self.kind,
            "confidence": round(self.confidence, 4),
            "summary": self.summary,
            "details": self.details,
            "where": self.where,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            detector=str(data["detector"]),
            kind=str(data["kind"]),
            confidence=float(data["confidence"]),
            summary=str(data["summary"]),
            details=dict(data.get("details") or {}),
            where=data.get("where"),
        )


@dataclass(frozen=True, slots=True)
class Impersonation:
    """A protected person in a file from an account with no right to them.

    Why in the verdict and not only in findings: this is what a platform acts
    on (take down, restrict, alert the person), so it carries everything a
    reviewer needs in one place: who, on what evidence, from which account,
    and whether the file also admits or betrays AI generation.

    Attributes:
        person_id: the registry id of the protected person.
        person: their name.
        evidence: ``face``, ``voice`` or ``both``.
        account: the uploader, ``platform:handle``.
        account_status: ``unauthorised`` (not theirs, no licence for that
            scope) or ``expired`` (a licence that is not valid now).
        ai_label: the Art. 6 class decided for the same file, if any.
        ai_evidence: the finding kinds behind that class.
        reasons: one line each, for the reviewer and the person.
    """

    person_id: int
    person: str
    evidence: str
    account: str
    account_status: str
    ai_label: AigcLabel | None = None
    ai_evidence: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "person": self.person,
            "evidence": self.evidence,
            "account": self.account,
            "account_status": self.account_status,
            "ai_label": self.ai_label,
            "ai_evidence": list(self.ai_evidence),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Impersonation:
        return cls(
            person_id=int(data["person_id"]),
            person=str(data["person"]),
            evidence=str(data["evidence"]),
            account=str(data["account"]),
            account_status=str(data["account_status"]),
            ai_label=data.get("ai_label"),
            ai_evidence=tuple(data.get("ai_evidence") or ()),
            reasons=tuple(data.get("reasons") or ()),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The Art. 6 class decided for one item and the reasons for it."""

    aigc_label: AigcLabel | None
    reasons: tuple[str, ...] = ()
    policy: str = "v1"
    impersonation: tuple[Impersonation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "aigc_label": self.aigc_label,
            "reasons": list(self.reasons),
            "policy": self.policy,
            "impersonation": [i.to_dict() for i in self.impersonation],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        label = data.get("aigc_label")
        if label not in (None, "1", "2", "3"):
            msg = f"invalid aigc_label {label!r}"
            raise ValueError(msg)
        return cls(
            aigc_label=label,
            reasons=tuple(data.get("reasons") or ()),
            policy=str(data.get("policy", "v1")),
            impersonation=tuple(
                Impersonation.from_dict(i) for i in data.get("impersonation") or ()
            ),
        )
