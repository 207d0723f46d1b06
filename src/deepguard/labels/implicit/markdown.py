"""Markdown: the label is the ``AIGC:`` key of the YAML front matter.

Front matter is where Markdown tools (Jekyll, Hugo, Pandoc, Obsidian) keep
document metadata, so a label there survives the usual publishing tools and
stays out of the rendered text. Reading and writing live in
:mod:`._front_matter`, shared with plain text.
"""

from __future__ import annotations

from typing import ClassVar

from deepguard.labels.implicit._front_matter import FrontMatterCarrier

__all__ = ["MarkdownCarrier"]


class MarkdownCarrier(FrontMatterCarrier):
    """``AIGC:`` in the front matter of a Markdown file."""

    name: ClassVar[str] = "markdown"
    mimes: ClassVar[frozenset[str]] = frozenset({"text/markdown"})
