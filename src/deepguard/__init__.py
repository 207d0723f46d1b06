"""deepguard: label AI-generated content and stop AI impersonation of real people.

The library is the product; the CLI, HTTP API and dashboard are thin layers
over it. Start with :class:`deepguard.scan.Scanner` or
:func:`deepguard.scan.scan_paths`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
