"""The table of known AI generators and matching metadata values against it.

Why one data file (``generators.json``): the list changes monthly and is
reviewed by people who do not read Python, and every reader (EXIF Software,
XMP CreatorTool, MP4 encoder, ID3 TSSE ...) must agree on the same names.
Patterns are case-insensitive regular expressions with explicit word
boundaries, because the cost of a false positive is a wrongly labelled
upload: ``Flux`` must not fire on "Influx", ``Pika`` not on "Pikachu",
``Veo`` not on a "Veo Cam" sports camera, and bare ``Gemini`` or ``Runway``
only when the value is exactly that word.

The table is loaded once per process and validated at load (unique names,
known kinds, patterns that compile), so a bad edit fails at start-up.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from deepguard.errors import ConfigError

__all__ = [
    "KINDS",
    "Generator",
    "GeneratorMatch",
    "load_generators",
    "match_generator",
    "parse_table",
]

KINDS: Final = frozenset({"image", "video", "audio"})
_MAX_TEXT: Final = 65536
"""Only the first 64 KiB of a value are searched; names are never buried deeper."""


@dataclass(frozen=True, slots=True)
class Generator:
    """One known generator: canonical name, vendor, media kinds, patterns."""

    name: str
    vendor: str
    kinds: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True, slots=True)
class GeneratorMatch:
    """Which generator a value names, by which pattern, and the matched text."""

    generator: Generator
    pattern: str
    matched: str


@dataclass(frozen=True, slots=True)
class _Table:
    """The generators plus a cheap necessary condition for each of them.

    Searching ~150 case-insensitive patterns costs tens of microseconds per
    value and nearly every value matches nothing. Most patterns begin with a
    literal word ("midjourney", "即梦"), so a substring test on the lowered
    value picks the few candidate generators; patterns without such a word
    are searched through one combined ``residual`` pattern.
    """

    generators: tuple[Generator, ...]
    needles: tuple[tuple[str, frozenset[int]], ...]
    """(lowercase literal, indexes of the generators it may reveal)."""
    residual: re.Pattern[str] | None
    residual_generators: frozenset[int]

    @classmethod
    def build(cls, generators: tuple[Generator, ...]) -> _Table:
        needles: dict[str, set[int]] = {}
        residual: list[str] = []
        residual_generators: set[int] = set()
        for index, generator in enumerate(generators):
            for pattern in generator.patterns:
                needle = _literal_prefix(pattern.pattern)
                if needle is None:
                    residual.append(f"(?:{pattern.pattern})")
                    residual_generators.add(index)
                else:
                    needles.setdefault(needle, set()).add(index)
        return cls(
            generators=generators,
            needles=tuple((n, frozenset(g)) for n, g in sorted(needles.items())),
            residual=re.compile("|".join(residual), re.I) if residual else None,
            residual_generators=frozenset(residual_generators),
        )

    def candidates(self, text: str) -> list[int]:
        """Indexes of generators that may match ``text``, in table order."""
        lowered = text.lower()
        found: set[int] = set()
        for needle, generators in self.needles:
            if needle in lowered:
                found |= generators
        if self.residual is not None and self.residual.search(text) is not None:
            found |= self.residual_generators
        return sorted(found)


_ANCHORS: Final = (r"^\s*", r"\b")
_META: Final = frozenset("[](){}?*+|^$.\\")
_ESCAPED_LITERALS: Final = frozenset("-.")


def _literal_prefix(pattern: str) -> str | None:
    """A lowercase substring every match of ``pattern`` contains, or None.

    Reads the literal characters after a leading anchor up to the first
    metacharacter; a quantifier there makes its character optional, so that
    character is dropped. Patterns with a top-level ``|`` are not analysed.
    """
    if _has_top_level_alternation(pattern):
        return None
    for anchor in _ANCHORS:
        pattern = pattern.removeprefix(anchor)
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch, step = pattern[i], 1
        if ch == "\\" and pattern[i + 1 : i + 2] in _ESCAPED_LITERALS:
            ch, step = pattern[i + 1], 2
        elif ch in _META:
            break
        if pattern[i + step : i + step + 1] in ("?", "*", "{"):
            break
        out.append(ch)
        i += step
    needle = "".join(out).lower()
    long_enough = len(needle) >= 3 or (needle and not needle.isascii())
    return needle if long_enough else None


def _has_top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


def parse_table(doc: Any) -> tuple[Generator, ...]:
    """Validate a decoded ``generators.json`` document and compile it.

    Raises:
        ConfigError: a required key is missing, a name repeats, a kind is
            unknown or a pattern does not compile.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("generators"), list):
        msg = "generators.json: expected an object with a 'generators' list"
        raise ConfigError(msg)
    seen: set[str] = set()
    out: list[Generator] = []
    for n, entry in enumerate(doc["generators"]):
        gen = _parse_entry(n, entry)
        if gen.name.casefold() in seen:
            msg = f"generators.json: duplicate generator name {gen.name!r}"
            raise ConfigError(msg)
        seen.add(gen.name.casefold())
        out.append(gen)
    return tuple(out)


def _parse_entry(n: int, entry: Any) -> Generator:
    where = f"generators.json: entry {n}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not an object")
    name, vendor = entry.get("name"), entry.get("vendor")
    kinds, patterns = entry.get("kinds"), entry.get("patterns")
    if not (isinstance(name, str) and name and isinstance(vendor, str) and vendor):
        raise ConfigError(f"{where} needs a non-empty 'name' and 'vendor'")
    if not (isinstance(kinds, list) and kinds and set(kinds) <= KINDS):
        raise ConfigError(
            f"{where} ({name}): 'kinds' must be a subset of {sorted(KINDS)}"
        )
    if not (isinstance(patterns, list) and patterns):
        raise ConfigError(f"{where} ({name}): 'patterns' must be a non-empty list")
    compiled: list[re.Pattern[str]] = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except (re.error, TypeError) as exc:
            msg = f"{where} ({name}): pattern {pattern!r} does not compile: {exc}"
            raise ConfigError(msg) from exc
    return Generator(name, vendor, frozenset(kinds), tuple(compiled))


@functools.cache
def _table() -> _Table:
    text = resources.files("deepguard.provenance").joinpath("generators.json")
    try:
        doc = json.loads(text.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"generators.json cannot be read: {exc}"
        raise ConfigError(msg) from exc
    return _Table.build(parse_table(doc))


def load_generators() -> tuple[Generator, ...]:
    """The validated generator table, in priority order (loaded once).

    Raises:
        ConfigError: the packaged table is missing or invalid.
    """
    return _table().generators


def match_generator(text: str) -> GeneratorMatch | None:
    """The first generator in table order that ``text`` names, if any.

    Raises:
        ConfigError: the packaged table is missing or invalid.
    """
    table = _table()
    text = text[:_MAX_TEXT]
    for index in table.candidates(text):
        generator = table.generators[index]
        for pattern in generator.patterns:
            found = pattern.search(text)
            if found is not None:
                return GeneratorMatch(generator, pattern.pattern, found.group(0))
    return None
