"""Plain text: an optional front-matter block at the top carries the label.

Plain text has no metadata, so the implicit label uses the same block as
Markdown (``---`` / ``AIGC: '...'`` / ``---``); reading recognises it
whether or not the file was labelled by deepguard. Only UTF-8 text (with or
without a byte order mark) can take it; line endings are kept as they are.

The explicit notice GB 45438 asks of text (a visible "AI-generated" prefix
or suffix) is written by the explicit-label module, not here: this carrier
only handles the machine-readable label.

A labelled plain-text file starts with ``---`` and is then probed as
Markdown, whose carrier reads and digests it the same way.
"""

from __future__ import annotations

from typing import ClassVar

from deepguard.labels.implicit._front_matter import FrontMatterCarrier

__all__ = ["TextCarrier"]


class TextCarrier(FrontMatterCarrier):
    """``AIGC:`` in a front-matter block at the top of a plain-text file."""

    name: ClassVar[str] = "text"
    mimes: ClassVar[frozenset[str]] = frozenset({"text/plain"})
