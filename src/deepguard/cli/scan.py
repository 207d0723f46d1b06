"""``deepguard scan``: scan files and directories for AI provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from deepguard.accounts import AccountRef
from deepguard.cli._state import get_state
from deepguard.cli.render import results_table
from deepguard.scan.batch import ScanOptions
from deepguard.scan.result import ScanResult

__all__ = ["scan"]


def scan(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        # The scanner reports unreadable paths per file; the parser must not
        # reject the whole batch for one of them.
        typer.Argument(help="Files or directories to scan.", readable=False),
    ],
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one deepguard.scan/1 JSON document per file, one per line.",
        ),
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write a self-contained HTML report here."),
    ] = None,
    metadata_only: Annotated[
        bool,
        typer.Option(
            "--metadata-only",
            help="Run only detectors that read metadata, never decode content.",
        ),
    ] = False,
    detector: Annotated[
        list[str] | None,
        typer.Option("--detector", "-d", help="Run only these detectors (repeatable)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-j", min=1, help="Worker processes (default: one per core)."
        ),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option("--recursive/--no-recursive", help="Descend into directories."),
    ] = True,
    store: Annotated[
        bool,
        typer.Option(
            "--store/--no-store", help="Record results in the history database."
        ),
    ] = True,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary table.")
    ] = False,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            metavar="PLATFORM:HANDLE",
            help="The uploader's account: a protected person seen in the file "
            "from an account that is neither theirs nor licensed is flagged.",
        ),
    ] = None,
) -> None:
    """Scan files for AI-generation provenance and classify them under Art. 6.

    Exit code 0 when every file was scanned, 1 when some could not be, 2 for
    usage errors. Each failed file gets a one-line error on stderr; the batch
    goes on.
    """
    state = get_state(ctx)
    service = state.services.scans
    options = ScanOptions(
        metadata_only=metadata_only,
        detector_names=tuple(detector) if detector else None,
        uploader=AccountRef.parse(account) if account else None,
    )
    files = service.expand_inputs(paths, recursive=recursive)
    results: list[ScanResult] = []
    failed = 0
    progress = Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=state.err,
        transient=True,
        disable=quiet or not state.err.is_terminal,
    )
    with progress:
        task = progress.add_task("scan", total=len(files))
        for result in service.scan(
            paths=files,
            options=options,
            workers=workers,
            persist=store,
        ):
            progress.advance(task)
            if result.errors:
                failed += 1
                for err in result.errors:
                    progress.console.print(
                        f"[red]error:[/] {err.message}", markup=True, highlight=False
                    )
            if json_out:
                state.out.file.write(
                    json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=False)
                    + "\n"
                )
                state.out.file.flush()
            if html is not None or not json_out:
                results.append(result)
    if html is not None:
        from deepguard.report.html import write_html

        written = write_html(results, html, limits=state.settings.limits)
        state.err.print(f"HTML report: {written}")
    if not json_out and not quiet:
        state.out.print(
            results_table(results, title=f"{len(files)} file(s), {failed} failed")
        )
    if failed:
        raise typer.Exit(1)
