"""``deepguard history`` and ``deepguard show``: past scans from the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from deepguard.cli._state import get_state
from deepguard.cli.render import human_size, label_text, results_table

__all__ = ["history", "show"]


def history(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="How many scans.")
    ] = 50,
    offset: Annotated[
        int, typer.Option("--offset", min=0, help="Skip this many newest scans.")
    ] = 0,
    label: Annotated[
        str | None,
        typer.Option(
            "--label", help="Only scans with this AIGC label: 1, 2, 3 or none."
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per scan, one per line.")
    ] = False,
) -> None:
    """List past scans, newest first."""
    if label is not None and label not in ("1", "2", "3", "none"):
        raise typer.BadParameter("must be 1, 2, 3 or none", param_hint="--label")
    state = get_state(ctx)
    store = state.services.store
    rows = store.list_scans(limit=limit, offset=offset, label=label)
    if json_out:
        for row in rows:
            state.out.file.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(rows)} of {store.count_scans()} scan(s)")
    for col in (
        "scanned at",
        "sha256",
        "file",
        "kind",
        "size",
        "label",
        "findings",
        "errors",
    ):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(
            row.scanned_at.isoformat(timespec="seconds"),
            (row.sha256 or "-")[:12],
            row.path,
            row.kind or "?",
            human_size(row.size),
            label_text(row.aigc_label),
            str(row.finding_count),
            str(row.error_count) if row.error_count else "",
        )
    state.out.print(table)


def show(
    ctx: typer.Context,
    sha256: Annotated[
        str, typer.Argument(help="SHA-256 of the content, or a unique prefix (6+ hex).")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the stored JSON document.")
    ] = False,
) -> None:
    """Reprint the latest scan of a file, by its content hash."""
    cleaned = sha256.strip().lower()
    if len(cleaned) < 6 or any(c not in "0123456789abcdef" for c in cleaned):
        raise typer.BadParameter(
            "give at least 6 hexadecimal characters", param_hint="SHA256"
        )
    state = get_state(ctx)
    result = state.services.store.get_scan(sha256=cleaned)
    if json_out:
        state.out.file.write(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n"
        )
        return
    state.out.print(results_table([result], title=f"scan of {result.file.sha256}"))
    for finding in result.findings:
        state.out.print(
            f"  [bold]{finding.kind}[/] ({finding.detector}, "
            f"{finding.confidence:.2f}) {finding.summary}",
            markup=True,
            highlight=False,
        )
    for reason in result.verdict.reasons:
        state.out.print(f"  reason: {reason}", markup=False, highlight=False)
