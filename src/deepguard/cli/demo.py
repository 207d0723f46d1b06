"""``deepguard demo``: generate sample media, scan it, write the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepguard.cli._state import get_state
from deepguard.cli.render import results_table

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", help="Where to write samples and the report.")
    ] = Path("demo-out"),
) -> None:
    """Scan a generated set of sample files in every media kind.

    Some samples carry AI provenance (an XMP digital source type, Stable
    Diffusion parameters, a generator name, an AIGC label); one is
    deliberately corrupt to show that a bad file never stops a batch.
    """
    from deepguard.demo.samples import generate_samples
    from deepguard.report.html import write_html

    state = get_state(ctx)
    samples_dir = out / "samples"
    specs = generate_samples(samples_dir)
    results = list(state.services.scans.scan(paths=[s.path for s in specs]))
    report = write_html(results, out / "report.html", limits=state.settings.limits)
    state.out.print(
        results_table(results, title=f"deepguard demo: {len(results)} sample(s)")
    )
    expected = {str(s.path): s.expected_label for s in specs}
    wrong = [
        r
        for r in results
        if not r.errors and expected.get(r.file.path) != r.verdict.aigc_label
    ]
    state.out.print(f"HTML report: {report.resolve()}")
    state.out.print(f"database: {state.settings.resolved_database_url}")
    if wrong:
        state.err.print(f"[red]{len(wrong)} sample(s) got an unexpected label[/]")
        raise typer.Exit(1)
