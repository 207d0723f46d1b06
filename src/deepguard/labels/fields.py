"""The GB 45438-2025 implicit label: its fields, serialisation and Annex E checks.

Every carrier stores the same JSON document, ``{"AIGC": {...}}``, so parsing
and validation live here once. Carriers only find and write bytes; this
module decides whether what they found is a compliant label.

The checks follow the standard's Annex E and TC260-PG-20252A:

* ``Label``, ``ContentProducer`` and ``ProduceID`` are required;
* ``Label`` is ``"1"``, ``"2"`` or ``"3"``;
* values use only the bytes 0x21, 0x23-0x5B and 0x5D-0x7E, plus an escaped
  quote (so no spaces, no non-ASCII text, no backslashes): codes, not names;
* no fields beyond the seven the standard defines, no duplicate keys;
* one copy per file: several copies are a problem, disagreeing copies more so.

Parsing is tolerant where the standard asks readers to be (whitespace, a
wrapped ``{"AIGC": {...}}`` or a bare field object, a UTF-8 byte order mark,
trailing NULs) and strict where a lenient reader would hide forgery.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "FIELD_ORDER",
    "MAX_LABEL_BYTES",
    "AigcFields",
    "LabelReading",
    "LabelStatus",
    "ParsedLabel",
    "RawLabel",
    "assess",
    "check_provider_code",
    "parse_label",
]

FIELD_ORDER: tuple[str, ...] = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
_REQUIRED = ("Label", "ContentProducer", "ProduceID")
_LABEL_VALUES = frozenset({"1", "2", "3"})
MAX_LABEL_BYTES = 1024 * 1024
"""A label is a few hundred bytes; anything over 1 MiB is refused unparsed."""

_ATTRS = {
    "Label": "label",
    "ContentProducer": "content_producer",
    "ProduceID": "produce_id",
    "ReservedCode1": "reserved_code1",
    "ContentPropagator": "content_propagator",
    "PropagateID": "propagate_id",
    "ReservedCode2": "reserved_code2",
}


def _value_problem(name: str, value: str) -> str | None:
    """Annex E character rule; the decoded quote came from an allowed ``\\"``."""
    for ch in value:
        code = ord(ch)
        if code < 0x21 or code > 0x7E or code == 0x5C:
            return f"{name} contains a disallowed character {ch!r}"
    return None


@dataclass(frozen=True, slots=True)
class AigcFields:
    """The seven fields of an implicit label, by their standard names."""

    label: str
    content_producer: str
    produce_id: str
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def to_dict(self) -> dict[str, str]:
        """Fields in the standard's order, under their standard names."""
        return {name: getattr(self, attr) for name, attr in _ATTRS.items()}

    def to_json(self) -> str:
        """The compact carrier payload ``{"AIGC":{...}}`` (ASCII, no spaces)."""
        return json.dumps({"AIGC": self.to_dict()}, separators=(",", ":"))

    def replace(self, **changes: str) -> AigcFields:
        return replace(self, **changes)

    def problems(self) -> list[str]:
        """What makes these fields noncompliant (empty when compliant)."""
        found: list[str] = []
        data = self.to_dict()
        for name in _REQUIRED:
            if not data[name]:
                found.append(f"required field {name} is empty")
        if data["Label"] and data["Label"] not in _LABEL_VALUES:
            found.append(f"Label {data['Label']!r} is not 1, 2 or 3")
        for name, value in data.items():
            problem = _value_problem(name, value)
            if problem:
                found.append(problem)
        return found

    @classmethod
    def from_mapping(cls, data: dict[str, str]) -> AigcFields:
        return cls(**{_ATTRS[k]: v for k, v in data.items() if k in _ATTRS})


def check_provider_code(code: str) -> str | None:
    """TC260-PG-20252A code shape: 27 characters, ``00`` + 20 + role + 4.

    Returns the problem, or ``None`` when the code has the standard's shape.
    Real labels in the wild often use other identifiers, so this is reported
    as a warning rather than noncompliance.
    """
    if len(code) != 27 or not code.isascii() or not code.isalnum():
        return f"{code!r} is not a 27-character alphanumeric provider code"
    if not code.startswith("00"):
        return f"{code!r} does not start with 00"
    if code[22] not in "12":
        return (
            f"{code!r} has role {code[22]!r}, "
            "expected 1 (generation) or 2 (propagation)"
        )
    return None


@dataclass(frozen=True, slots=True)
class RawLabel:
    """One copy of a label as a carrier found it, before parsing.

    Attributes:
        carrier: the carrier module that found it (``png``, ``jpeg`` ...).
        location: where in the file, for people (``tEXt AIGC``, ``XMP TC260:AIGC``,
            ``moov/udta/meta AIGC``).
        payload: the stored value, as bytes when the carrier had no text encoding.
        offset: byte offset of the carrier structure, when known.
    """

    carrier: str
    location: str
    payload: str | bytes
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedLabel:
    """One copy after parsing: its fields (when parseable) and its problems."""

    raw: RawLabel
    fields: AigcFields | None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.raw.carrier,
            "location": self.raw.location,
            "offset": self.raw.offset,
            "fields": self.fields.to_dict() if self.fields else None,
            "problems": list(self.problems),
        }


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _text_of(payload: str | bytes) -> str:
    if isinstance(payload, str):
        return payload
    if payload.startswith(b"\xef\xbb\xbf"):
        payload = payload[3:]
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from exc


def parse_label(raw: RawLabel) -> ParsedLabel:
    """Parse one copy; never raises, every defect becomes a problem."""
    size = len(
        raw.payload.encode("utf-8") if isinstance(raw.payload, str) else raw.payload
    )
    if size > MAX_LABEL_BYTES:
        return ParsedLabel(raw, None, (f"label is {size} bytes, over the 1 MiB limit",))
    try:
        text = _text_of(raw.payload).strip().rstrip("\x00").strip()
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        return ParsedLabel(raw, None, (f"label is not valid JSON: {_short(exc)}",))
    if not isinstance(doc, dict):
        return ParsedLabel(raw, None, ("label JSON is not an object",))
    problems: list[str] = []
    body: Any = doc
    if "AIGC" in doc:
        body = doc["AIGC"]
        others = sorted(k for k in doc if k != "AIGC")
        if others:
            problems.append(f"unknown top-level fields {', '.join(others)}")
        if not isinstance(body, dict):
            return ParsedLabel(raw, None, ("AIGC value is not an object",))
    values: dict[str, str] = {}
    for key, value in body.items():
        if key not in _ATTRS:
            problems.append(f"unknown field {key!r}")
            continue
        if not isinstance(value, str):
            problems.append(f"{key} is a {type(value).__name__}, not a string")
            value = json.dumps(value) if value is not None else ""
        values[key] = value
    for name in _REQUIRED:
        if name not in values:
            problems.append(f"required field {name} is missing")
    fields = AigcFields.from_mapping({k: values.get(k, "") for k in FIELD_ORDER})
    problems += [
        p for p in fields.problems() if "missing" not in p and not _dup(p, problems)
    ]
    return ParsedLabel(raw, fields, tuple(problems))


def _dup(problem: str, existing: Sequence[str]) -> bool:
    # "required field X is empty" duplicates "required field X is missing".
    if problem.startswith("required field ") and problem.endswith(" is empty"):
        name = problem.split()[2]
        return f"required field {name} is missing" in existing
    return False


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."


class LabelStatus(enum.StrEnum):
    """The outcome of reading a file's implicit label."""

    COMPLIANT = "compliant"
    NONCOMPLIANT = "noncompliant"
    NOT_FOUND = "not_found"
    INCONCLUSIVE = "inconclusive"
    """Part of the file could not be read, so absence cannot be concluded."""


@dataclass(frozen=True, slots=True)
class LabelReading:
    """Everything known about one file's implicit label."""

    status: LabelStatus
    fields: AigcFields | None = None
    copies: tuple[ParsedLabel, ...] = ()
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    carrier: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": str(self.status),
            "fields": self.fields.to_dict() if self.fields else None,
            "carrier": self.carrier,
            "copies": [c.to_dict() for c in self.copies],
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }
        out.update(self.extra)
        return out


def assess(
    copies: Iterable[RawLabel],
    *,
    errors: Iterable[str] = (),
    carrier: str | None = None,
) -> LabelReading:
    """Turn every copy a carrier found into one reading for the file."""
    parsed = tuple(parse_label(raw) for raw in copies)
    errs = tuple(errors)
    if not parsed:
        status = LabelStatus.INCONCLUSIVE if errs else LabelStatus.NOT_FOUND
        return LabelReading(status, errors=errs, carrier=carrier)
    problems: list[str] = []
    for copy in parsed:
        problems += [f"{copy.raw.location}: {p}" for p in copy.problems]
    usable = [c for c in parsed if c.fields is not None]
    distinct = {c.fields for c in usable}
    if len(parsed) > 1:
        where = ", ".join(c.raw.location for c in parsed)
        if len(distinct) > 1:
            problems.append(f"{len(parsed)} label copies disagree ({where})")
        else:
            problems.append(
                f"{len(parsed)} label copies where one is allowed ({where})"
            )
    chosen = usable[0].fields if usable else None
    warnings: list[str] = []
    if chosen is not None:
        for name, code in (
            ("ContentProducer", chosen.content_producer),
            ("ContentPropagator", chosen.content_propagator),
        ):
            if code:
                warning = check_provider_code(code)
                if warning:
                    warnings.append(f"{name}: {warning}")
    status = LabelStatus.NONCOMPLIANT if problems else LabelStatus.COMPLIANT
    return LabelReading(
        status,
        fields=chosen,
        copies=parsed,
        problems=tuple(problems),
        warnings=tuple(warnings),
        errors=errs,
        carrier=carrier,
    )
