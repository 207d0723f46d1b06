"""Verdict policy v4: from findings to the Art. 6 label class.

This is the one place where evidence turns into a decision, so that a platform
can review, document and change its rules without touching any detector.

The rules (Measures for Labeling AI-Generated Synthetic Content, Art. 6):

* ``"1"`` (AI-generated): a valid GB 45438 implicit label (compliant, and no
  signature on it fails) declares it (its own ``Label`` value is kept when it
  says 2 or 3), or a C2PA manifest that validates, or IPTC XMP
  ``DigitalSourceType``, says the content was made by a trained algorithm,
  or deepguard's invisible watermark is present: a provider marked it. When
  the mark is there but the metadata label is missing or names another
  producer or ProduceID than the mark's label record, the first reason says
  "label stripped or altered" and names the producer.
* ``"3"`` (suspected AI-generated): no such label, but traces of generation:
  an explicit AI notice in the pixels or the audio rhythm cue, a label that is
  present but broken (noncompliant, or its signature fails), generator
  parameters in PNG text chunks, a known generator named in EXIF, XMP or
  container tags, a synthetic source type, a C2PA AI claim that does not
  validate, an AIGC field that only the raw provenance reader saw.
* ``None``: nothing indicates AI generation.

``"2"`` (possibly AI-generated) comes only from the uploader's declaration,
which a file scan cannot see; the propagation step adds it.

Each finding kind has one role here. Kinds this table does not know are
informational and never change a verdict, so a new detector cannot silently
change decisions until its kinds are added to the policy.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from deepguard.scan.finding import AigcLabel, Finding, Impersonation, Verdict

__all__ = ["POLICY_VERSION", "Role", "decide", "role_of"]

POLICY_VERSION = "v4"


class Role(enum.Enum):
    LABEL = "label"  # declares AI generation; decides "1" (or its own label)
    TRACE = "trace"  # reveals generation without a label; "3"
    INFO = "info"  # context only


_AI_LABEL_VALUES: frozenset[str] = frozenset({"1", "2", "3"})
_VALID_C2PA = frozenset({"Valid", "Trusted"})

_TRACE_KINDS: frozenset[str] = frozenset(
    {
        "png.sd_parameters",
        "png.comfyui_prompt",
        "png.comfyui_workflow",
        "png.generator_text",
        "generator.name",
        "c2pa.synthetic_source",
        "xmp.ai_field",
        "aigc.raw",
        "label.noncompliant",
        "label.signature_invalid",
        "label.explicit",
        "label.audio_cue",
        "watermark.third_party",
    }
)


def role_of(finding: Finding) -> Role:
    """The role a finding plays in the verdict."""
    kind, details = finding.kind, finding.details
    if kind == "label.implicit":
        valid = details.get("valid") and details.get("label") in _AI_LABEL_VALUES
        return Role.LABEL if valid else Role.TRACE
    if kind == "c2pa.ai_source":
        return (
            Role.LABEL if details.get("validation_state") in _VALID_C2PA else Role.TRACE
        )
    if kind == "xmp.digital_source_type":
        if details.get("ai_generated"):
            return Role.LABEL
        return Role.TRACE if details.get("synthetic") else Role.INFO
    if kind == "watermark.deepguard":
        return Role.LABEL
    if kind in _TRACE_KINDS:
        return Role.TRACE
    return Role.INFO


def _reason(finding: Finding) -> str:
    """``kind: summary``, naming the field when the summary does not."""
    field = finding.details.get("field") or finding.details.get("keyword")
    if field and str(field) not in finding.summary:
        return f"{finding.kind} [{field}]: {finding.summary}"
    return f"{finding.kind}: {finding.summary}"


def _stripped(findings: list[Finding]) -> list[str]:
    """ "label stripped or altered" reasons: a watermark the metadata disowns."""
    implicit = [
        f.details.get("fields") or {}
        for f in findings
        if f.kind == "label.implicit" and role_of(f) is Role.LABEL
    ]
    reasons = []
    for mark in (f for f in findings if f.kind == "watermark.deepguard"):
        records = mark.details.get("records") or []
        producer = mark.details.get("producer")
        tag = mark.details.get("producer_tag")
        who = (
            f"producer {producer} (ProduceID {records[0].get('ProduceID')})"
            if producer
            else f"producer tag {tag:05x} (no label record here)"
            if isinstance(tag, int)
            else "an unknown producer (payload unreadable)"
        )
        if not implicit:
            reasons.append(
                f"label stripped or altered: the watermark names {who}, "
                "but the file has no valid metadata label"
            )
            continue
        if not records:
            continue
        expected = (records[0].get("ContentProducer"), records[0].get("ProduceID"))
        if all(
            (f.get("ContentProducer"), f.get("ProduceID")) != expected for f in implicit
        ):
            found = implicit[0]
            reasons.append(
                f"label stripped or altered: the metadata label says producer "
                f"{found.get('ContentProducer')} (ProduceID {found.get('ProduceID')})"
                f", the watermark names {who}"
            )
    return reasons


def decide(findings: Iterable[Finding]) -> Verdict:
    """Apply policy v4 to the findings of one item."""
    findings = list(findings)
    verdict = _classify(findings)
    return dataclasses.replace(
        verdict, impersonation=_impersonations(findings, verdict)
    )


def _classify(findings: list[Finding]) -> Verdict:
    """The Art. 6 class and its reasons."""
    labels: list[tuple[AigcLabel, Finding]] = []
    traces: list[Finding] = []
    for finding in findings:
        role = role_of(finding)
        if role is Role.LABEL:
            declared = (
                finding.details.get("label")
                if finding.kind == "label.implicit"
                else "1"
            )
            labels.append((declared if declared in _AI_LABEL_VALUES else "1", finding))  # type: ignore[arg-type]
        elif role is Role.TRACE:
            traces.append(finding)
    # Label-detector findings (a broken label, an explicit notice) explain a
    # verdict better than raw metadata traces, so they lead the reasons.
    traces.sort(key=lambda f: not f.kind.startswith("label."))
    if labels:
        # The strongest claim wins: "1" over "2" over "3".
        chosen = min(label for label, _ in labels)
        reasons = _stripped(findings)
        reasons += [_reason(f) for label, f in labels if label == chosen]
        reasons += [_reason(f) for f in traces]
        return Verdict(aigc_label=chosen, reasons=tuple(reasons), policy=POLICY_VERSION)
    if traces:
        reasons = ["AI-generation traces without a valid implicit label"]
        reasons += [_reason(f) for f in traces]
        return Verdict(aigc_label="3", reasons=tuple(reasons), policy=POLICY_VERSION)
    return Verdict(aigc_label=None, reasons=(), policy=POLICY_VERSION)


_AI_WORDS = {"1": "AI-generated (Label 1)", "2": "possibly AI (Label 2)"}


def _impersonations(
    findings: list[Finding], verdict: Verdict
) -> tuple[Impersonation, ...]:
    """One entry per protected person an unauthorised account showed.

    The likeness detector says who appears and why the account has no right;
    this adds what the same file reveals about AI generation, because a
    reviewer treats a labelled AI clone differently from a real recording
    re-used without a licence.
    """
    ai_kinds = tuple(
        dict.fromkeys(
            f.kind for f in findings if role_of(f) in (Role.LABEL, Role.TRACE)
        )
    )
    if verdict.aigc_label is None:
        ai_line = "no AI label or generation trace found in the file"
    else:
        what = _AI_WORDS.get(verdict.aigc_label, "suspected AI (Label 3)")
        ai_line = f"the file is {what}: {', '.join(ai_kinds)}"
    entries = []
    for finding in findings:
        if finding.kind != "impersonation":
            continue
        d = finding.details
        entries.append(
            Impersonation(
                person_id=int(d.get("person_id", 0)),
                person=str(d.get("person", "")),
                evidence=str(d.get("evidence", "")),
                account=str(d.get("account", "")),
                account_status=str(d.get("account_status", "unauthorised")),
                ai_label=verdict.aigc_label,
                ai_evidence=ai_kinds,
                reasons=(*(str(r) for r in d.get("reasons") or ()), ai_line),
            )
        )
    return tuple(entries)
