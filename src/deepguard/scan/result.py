"""The result of scanning one file, and its stable JSON form.

The JSON schema is versioned (``deepguard.scan/1``) because platforms store
these documents and build on them; fields are only ever added within a version.
See ``docs/scan-schema.md`` for the field reference.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from deepguard.scan.finding import Finding, Verdict

__all__ = ["SCHEMA", "DetectorRun", "FileIdentity", "ScanError", "ScanResult"]

SCHEMA = "deepguard.scan/1"


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Who the file is: where it was, what its bytes hash to, what it contains."""

    path: str
    sha256: str | None
    size: int | None
    kind: str | None
    mime: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "mime": self.mime,
        }


@dataclass(frozen=True, slots=True)
class DetectorRun:
    """Which detector ran, at which version, and for how long."""

    name: str
    version: str
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ScanError:
    """Something that went wrong; ``stage`` says where (probe, a detector ...)."""

    stage: str
    error: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "error": self.error, "message": self.message}


@dataclass(slots=True)
class ScanResult:
    """Everything known about one scanned file."""

    file: FileIdentity
    media: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    verdict: Verdict = field(default_factory=lambda: Verdict(aigc_label=None))
    detectors: list[DetectorRun] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)
    scanned_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    deepguard_version: str = ""

    @property
    def ok(self) -> bool:
        """True when the file was identified and no stage failed."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The ``deepguard.scan/1`` JSON document."""
        return {
            "schema": SCHEMA,
            "deepguard_version": self.deepguard_version,
            "scanned_at": self.scanned_at,
            "file": self.file.to_dict(),
            "media": self.media,
            "findings": [f.to_dict() for f in self.findings],
            "verdict": self.verdict.to_dict(),
            "detectors": [d.to_dict() for d in self.detectors],
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "errors": [e.to_dict() for e in self.errors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        """Rebuild a result from its JSON document (e.g. from the store).

        Raises:
            ValueError: the document is not a ``deepguard.scan/1`` document.
        """
        if data.get("schema") != SCHEMA:
            msg = f"not a {SCHEMA} document: schema={data.get('schema')!r}"
            raise ValueError(msg)
        f = data["file"]
        return cls(
            file=FileIdentity(
                path=f["path"],
                sha256=f.get("sha256"),
                size=f.get("size"),
                kind=f.get("kind"),
                mime=f.get("mime"),
            ),
            media=dict(data.get("media") or {}),
            findings=[Finding.from_dict(x) for x in data.get("findings") or []],
            verdict=Verdict.from_dict(data.get("verdict") or {}),
            detectors=[
                DetectorRun(
                    name=d["name"],
                    version=d["version"],
                    seconds=float(d.get("seconds", 0.0)),
                    error=d.get("error"),
                )
                for d in data.get("detectors") or []
            ],
            timings=dict(data.get("timings") or {}),
            errors=[
                ScanError(stage=e["stage"], error=e["error"], message=e["message"])
                for e in data.get("errors") or []
            ],
            scanned_at=str(data.get("scanned_at", "")),
            deepguard_version=str(data.get("deepguard_version", "")),
        )
