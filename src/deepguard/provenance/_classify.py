"""Turn traces into findings: one table of rules, applied in order.

Each rule looks at one :class:`Trace` and either returns a finding or
passes. The first rule that returns a finding claims the trace, so a value
is reported once, under its most specific kind: an ``AIGC`` field is an
``aigc.raw`` finding even if its JSON mentions a generator, an A1111
``parameters`` chunk is ``png.sd_parameters`` even though its ``Model:``
names one. Rule order is the table order below.

Confidence says how sure we are that the observation is what the kind
claims: values read verbatim from a field made for the purpose (an AIGC
label, an IPTC source type, an A1111 parameter block) are 1.0; a generator
name matched in a software/encoder field 0.9, in free text (comments,
descriptions) 0.7.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from deepguard.provenance._params import (
    parse_a1111,
    parse_comfy_prompt,
    parse_comfy_workflow,
    parse_invokeai,
    parse_json_object,
    parse_novelai,
    truncate,
)
from deepguard.provenance._sources import AI_CODES, SYNTHETIC_CODES, source_code
from deepguard.provenance._trace import Trace, where
from deepguard.provenance.generators import match_generator
from deepguard.scan.finding import Finding

__all__ = ["AI_FIELDS", "XMP_GENERATOR_FIELDS", "classify", "wants_xmp"]

MAX_RAW: Final = 64 * 1024
"""Longest raw AIGC value copied into a finding."""

AI_FIELDS: Final = frozenset(
    {
        "Iptc4xmpExt:AISystemUsed",
        "Iptc4xmpExt:AISystemVersionUsed",
        "Iptc4xmpExt:AIPromptInformation",
        "Iptc4xmpExt:AIPromptWriterName",
    }
)
"""IPTC 2024.1 AI-disclosure properties."""

XMP_GENERATOR_FIELDS: Final = frozenset(
    {
        "xmp:CreatorTool",
        "tiff:Software",
        "tiff:Make",
        "tiff:Model",
        "tiff:Artist",
        "tiff:ImageDescription",
        "dc:creator",
        "dc:description",
        "photoshop:Credit",
        "pdf:Producer",
    }
)
"""XMP properties that may name the tool that made the file."""

_HISTORY_AGENT: Final = "/stEvt:softwareAgent"
_AIGC_JSON: Final = re.compile(r'^\s*\{\s*"AIGC"\s*:')
_SOFTWARE_NAMES: Final = frozenset(
    {
        "software",
        "creatortool",
        "softwareagent",
        "encoder",
        "encoded_by",
        "tsse",
        "tenc",
        "isft",
        "handler_name",
        "vendor_id",
        "producer",
        "application",
        "generator",
        "com.apple.quicktime.software",
        "make",
        "model",
    }
)
_COMFY_KINDS: Final = {
    "prompt": "png.comfyui_prompt",
    "workflow": "png.comfyui_workflow",
}
_INVOKEAI_KEYWORDS: Final = frozenset(
    {"invokeai_metadata", "invokeai_graph", "sd-metadata", "Dream"}
)


def wants_xmp(key: str) -> bool:
    """Whether any rule reads the XMP property ``key`` (others are dropped early)."""
    name = key.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return (
        name == "DigitalSourceType"
        or name.upper() == "AIGC"
        or key in AI_FIELDS
        or key in XMP_GENERATOR_FIELDS
        or key.endswith(_HISTORY_AGENT)
    )


@dataclass(frozen=True, slots=True)
class _Context:
    detector: str
    novelai: bool
    """A PNG ``Software`` chunk says NovelAI, so its ``Comment`` is NovelAI's."""


def classify(traces: Sequence[Trace], *, detector: str) -> list[Finding]:
    """Findings for ``traces``, in trace order, at most one per trace."""
    ctx = _Context(
        detector=detector,
        novelai=any(
            t.family == "png" and t.name == "Software" and t.value.strip() == "NovelAI"
            for t in traces
        ),
    )
    out: list[Finding] = []
    for trace in traces:
        for rule in _RULES:
            finding = rule(trace, ctx)
            if finding is not None:
                out.append(finding)
                break
    return out


def _finding(
    ctx: _Context,
    trace: Trace,
    kind: str,
    confidence: float,
    summary: str,
    details: dict[str, Any],
) -> Finding:
    return Finding(
        detector=ctx.detector,
        kind=kind,
        confidence=confidence,
        summary=summary,
        details=details,
        where=where(trace.carrier, trace.offset),
    )


def _aigc(trace: Trace, ctx: _Context) -> Finding | None:
    if trace.name.upper() != "AIGC" and not _AIGC_JSON.match(trace.value):
        return None
    obj = parse_json_object(trace.value)
    parsed: dict[str, Any] | None = None
    if obj is not None and isinstance(obj.get("AIGC"), dict):
        parsed = obj["AIGC"]
    elif obj is not None and "Label" in obj:
        parsed = obj
    label = parsed.get("Label") if parsed is not None else None
    details = {
        "field": trace.field,
        "value": truncate(trace.value, MAX_RAW),
        "parsed": parsed,
        "label": None if label is None else str(label),
    }
    summary = f"{trace.field} carries an AIGC implicit label (Label={label})"
    return _finding(ctx, trace, "aigc.raw", 1.0, summary, details)


def _digital_source_type(trace: Trace, ctx: _Context) -> Finding | None:
    if trace.family != "xmp" or trace.name != "DigitalSourceType":
        return None
    code = source_code(trace.value)
    details = {
        "field": trace.field,
        "value": truncate(trace.value),
        "code": code,
        "ai_generated": code in AI_CODES,
        "synthetic": code in SYNTHETIC_CODES,
    }
    summary = f"{trace.field} declares digital source type {code or trace.value!r}"
    return _finding(ctx, trace, "xmp.digital_source_type", 1.0, summary, details)


def _ai_field(trace: Trace, ctx: _Context) -> Finding | None:
    if trace.family != "xmp" or trace.field not in AI_FIELDS:
        return None
    match = match_generator(trace.value)
    details = {
        "field": trace.field,
        "value": truncate(trace.value),
        "generator": match.generator.name if match else None,
    }
    summary = f"{trace.field} discloses AI use: {truncate(trace.value, 80)!r}"
    return _finding(ctx, trace, "xmp.ai_field", 1.0, summary, details)


def _sd_parameters(trace: Trace, ctx: _Context) -> Finding | None:
    if trace.family == "png" and trace.name == "parameters":
        kind = "png.sd_parameters"
    elif trace.family == "exif" and trace.name == "UserComment":
        kind = "exif.sd_parameters"
    else:
        return None
    parsed = parse_a1111(trace.value)
    if parsed is None and kind == "exif.sd_parameters":
        return None  # an ordinary comment
    details = {
        "field": trace.field,
        "keyword": trace.name,
        "value": truncate(trace.value),
        "parsed": parsed if parsed is not None else {"prompt": truncate(trace.value)},
    }
    confidence = 1.0 if parsed is not None else 0.8
    summary = f"{trace.field} holds Stable Diffusion web UI generation parameters"
    return _finding(ctx, trace, kind, confidence, summary, details)


def _comfyui(trace: Trace, ctx: _Context) -> Finding | None:
    kind = _COMFY_KINDS.get(trace.name) if trace.family == "png" else None
    if kind is None:
        return None
    obj = parse_json_object(trace.value)
    if obj is None:
        return None
    if kind == "png.comfyui_prompt":
        parsed = parse_comfy_prompt(obj)
    else:
        parsed = parse_comfy_workflow(obj)
    details = {
        "field": trace.field,
        "keyword": trace.name,
        "value": truncate(trace.value),
        "parsed": parsed,
    }
    summary = f"{trace.field} holds a ComfyUI {trace.name} graph"
    return _finding(ctx, trace, kind, 1.0, summary, details)


def _generator_text(trace: Trace, ctx: _Context) -> Finding | None:
    if trace.family != "png":
        return None
    if trace.name == "Comment" and ctx.novelai:
        obj = parse_json_object(trace.value)
        if obj is None:
            return None
        generator, parsed = "NovelAI", parse_novelai(obj)
    elif trace.name in _INVOKEAI_KEYWORDS:
        generator, parsed = "InvokeAI", parse_invokeai(trace.name, trace.value)
    else:
        return None
    details = {
        "field": trace.field,
        "keyword": trace.name,
        "value": truncate(trace.value),
        "generator": generator,
        "parsed": parsed,
    }
    summary = f"{trace.field} holds {generator} generation metadata"
    return _finding(ctx, trace, "png.generator_text", 1.0, summary, details)


def _generator_name(trace: Trace, ctx: _Context) -> Finding | None:
    if trace.family == "xmp" and not (
        trace.field in XMP_GENERATOR_FIELDS or trace.field.endswith(_HISTORY_AGENT)
    ):
        return None
    match = match_generator(trace.value)
    if match is None:
        return None
    details = {
        "field": trace.field,
        "value": truncate(trace.value),
        "generator": match.generator.name,
        "vendor": match.generator.vendor,
        "pattern": match.pattern,
    }
    confidence = 0.9 if trace.name.lower() in _SOFTWARE_NAMES else 0.7
    summary = f"{trace.field} names the AI generator {match.generator.name}"
    return _finding(ctx, trace, "generator.name", confidence, summary, details)


_Rule = Callable[[Trace, _Context], Finding | None]
_RULES: Final[tuple[_Rule, ...]] = (
    _aigc,
    _digital_source_type,
    _ai_field,
    _sd_parameters,
    _comfyui,
    _generator_text,
    _generator_name,
)
