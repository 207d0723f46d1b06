"""Human-readable reports of scan results.

The JSON scan result (``deepguard.scan/1``) is the record; reports are views of
it for people: a single self-contained HTML file a reviewer can open offline.
"""

from __future__ import annotations

from deepguard.report.html import DEFAULT_MAX_THUMBNAILS, render_html, write_html

__all__ = ["DEFAULT_MAX_THUMBNAILS", "render_html", "write_html"]
