"""``deepguard watermark embed|detect``: deepguard's invisible watermark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deepguard.cli._state import get_state
from deepguard.errors import DeepguardError
from deepguard.watermark.base import WatermarkKey
from deepguard.watermark.files import detect_file, embed_file_for
from deepguard.watermark.payload import Payload
from deepguard.watermark.recover import find_records, record_output
from deepguard.watermark.thirdparty.detector import ThirdPartyDetector

__all__ = ["watermark_app"]

watermark_app = typer.Typer(
    help="Embed and detect invisible watermarks.", no_args_is_help=True
)


@watermark_app.command("embed")
def embed(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Image, video or audio file.")],
    producer_code: Annotated[
        str, typer.Option("--producer-code", help="Your TC260 provider code.")
    ],
    produce_id: Annotated[
        str, typer.Option("--produce-id", help="The content's ProduceID.")
    ],
    aigc_label: Annotated[
        str, typer.Option("--label", help="Label class the record keeps.")
    ] = "1",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Embed the mark for (producer, ProduceID) and keep its label record."""
    state = get_state(ctx)
    dst = out or file.with_name(f"{file.stem}.marked{file.suffix}")
    if dst.resolve() == file.resolve():
        raise typer.BadParameter("the output must not be the input", param_hint="--out")
    payload = Payload.for_content(producer_code, produce_id)
    marked = embed_file_for(file, dst, payload, state.settings)
    fields = {
        "Label": aigc_label,
        "ContentProducer": producer_code,
        "ProduceID": produce_id,
    }
    record_output(state.services.store, payload, fields, dst)
    if json_out:
        typer.echo(json.dumps(marked.to_dict()))
        return
    state.out.print(f"marked: {dst} (payload {payload.hex()}, {marked.kind})")


@watermark_app.command("detect")
def detect(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Files to examine.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per file.")
    ] = False,
) -> None:
    """Look for deepguard's mark and third-party marks; name the producer.

    A file that cannot be read gets a one-line error and the others go on;
    the exit code is 1 when any file failed.
    """
    state = get_state(ctx)
    settings = state.settings
    key = WatermarkKey.from_text(settings.watermark.key)
    third_party = ThirdPartyDetector.from_settings(settings.watermark)
    failed = 0
    table = Table(title="watermarks")
    for col in ("file", "mark", "status", "p-value", "payload", "producer"):
        table.add_column(col)
    for path in files:
        try:
            detections = detect_file(
                path,
                key=key,
                fpr=settings.watermark.fpr,
                limits=settings.limits,
                third_party=third_party,
            )
        except DeepguardError as exc:
            failed += 1
            state.err.print(f"error: {exc}")
            continue
        for d in detections:
            records = find_records(state.services.store, d.payload) if d.payload else []
            producer = records[0].producer if records else None
            row = {
                "file": str(path),
                **d.to_dict(),
                "producer": producer,
                "record": records[0].fields if records else None,
            }
            if json_out:
                typer.echo(json.dumps(row))
                continue
            table.add_row(
                str(path),
                d.method,
                d.status.value if d.reason is None else f"{d.status.value}: {d.reason}",
                f"{d.p_value:.1e}",
                d.payload.hex() if d.payload else "-",
                producer or "-",
            )
    if not json_out:
        state.out.print(table)
    if failed:
        raise typer.Exit(1)
