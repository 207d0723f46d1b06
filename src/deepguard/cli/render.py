"""Rich renderings shared by commands: verdict badges and result tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text

from deepguard._format import human_size as format_size
from deepguard.scan.result import ScanResult

__all__ = ["human_size", "label_text", "results_table"]

_LABEL_STYLE = {
    "1": ("1 AI-generated", "bold white on red"),
    "2": ("2 possibly AI", "black on yellow"),
    "3": ("3 suspected AI", "black on dark_orange"),
}


def label_text(label: str | None) -> Text:
    """A coloured badge for an Art. 6 label (or its absence)."""
    text, style = _LABEL_STYLE.get(label or "", ("none", "dim"))
    return Text(f" {text} ", style=style)


def human_size(size: int | None) -> str:
    """A file size for a table cell; ``-`` when it is unknown."""
    return "-" if size is None else format_size(size)


def _why(result: ScanResult) -> Text:
    """The most useful single line: the first error, else the deciding reason."""
    if result.errors:
        return Text(result.errors[0].message, style="red")
    reasons = result.verdict.reasons
    if not reasons:
        return Text("")
    # For "3" the first reason is the generic "traces without a label" line.
    return Text(
        reasons[1]
        if result.verdict.aigc_label == "3" and len(reasons) > 1
        else reasons[0]
    )


def results_table(results: Sequence[ScanResult], *, title: str | None = None) -> Table:
    """One row per file: kind, label, findings and the first reason or error."""
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("file", overflow="fold", max_width=32)
    table.add_column("kind")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("label", no_wrap=True)
    table.add_column("findings", justify="right")
    table.add_column("why", overflow="fold", min_width=30)
    for r in results:
        table.add_row(
            Path(r.file.path).name or r.file.path,
            r.file.kind or "?",
            human_size(r.file.size),
            label_text(r.verdict.aigc_label),
            str(len(r.findings)),
            _why(r),
        )
    return table
