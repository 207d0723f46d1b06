"""``deepguard label``, ``inspect`` and ``propagate``: GB 45438 labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from deepguard.cli._state import get_state
from deepguard.cli.render import label_text
from deepguard.errors import ConfigError, DeepguardError
from deepguard.labels.keys import TrustedKeys

__all__ = ["inspect", "label", "propagate"]

_OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Output file (the input is never changed)."),
]
_InPlaceOpt = Annotated[
    bool, typer.Option("--in-place", help="Rewrite the input file itself.")
]
_JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _output(src: Path, out: Path | None, in_place: bool, tag: str) -> Path | None:
    if out is not None and in_place:
        raise typer.BadParameter("give --out or --in-place, not both")
    if in_place:
        return None
    return out or src.with_name(f"{src.stem}.{tag}{src.suffix}")


def _print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


def label(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="File to label.", readable=False)],
    producer_code: Annotated[
        str,
        typer.Option("--producer-code", help="Your 27-character TC260 provider code."),
    ],
    produce_id: Annotated[
        str | None,
        typer.Option("--produce-id", help="Content ID (default: a new random ID)."),
    ] = None,
    aigc_label: Annotated[
        str, typer.Option("--label", help="Label class: 1, 2 or 3.")
    ] = "1",
    implicit: Annotated[
        bool,
        typer.Option("--implicit/--no-implicit", help="Write the metadata label."),
    ] = True,
    explicit: Annotated[
        bool,
        typer.Option("--explicit", help="Render a visible or audible notice."),
    ] = False,
    watermark: Annotated[
        bool,
        typer.Option(
            "--watermark",
            help="Embed the invisible watermark and keep its label record.",
        ),
    ] = False,
    c2pa: Annotated[
        bool, typer.Option("--c2pa", help="Sign a C2PA manifest (configured cert).")
    ] = False,
    sign: Annotated[
        bool | None,
        typer.Option(
            "--sign/--no-sign",
            help="Sign ReservedCode1 (default: when a key for the code exists).",
        ),
    ] = None,
    soft_binding: Annotated[
        str | None,
        typer.Option(
            "--soft-binding",
            metavar="ALG:HEX",
            help="With --c2pa: name the embedded watermark (algorithm, payload).",
        ),
    ] = None,
    out: _OutOpt = None,
    in_place: _InPlaceOpt = False,
    json_out: _JsonOpt = False,
) -> None:
    """Label AI-generated content: notice, watermark, GB 45438 metadata, C2PA."""
    from deepguard.labels.apply import label_file
    from deepguard.labels.c2pa_sign import SoftBinding

    binding = None
    if soft_binding is not None:
        alg, _, value = soft_binding.partition(":")
        try:
            binding = SoftBinding(alg=alg, value=bytes.fromhex(value))
        except ValueError as exc:
            raise typer.BadParameter(
                "expected ALG:HEX, e.g. org.deepguard.watermark.1:00ff",
                param_hint="--soft-binding",
            ) from exc

    state = get_state(ctx)
    dst = _output(file, out, in_place, "labelled")
    outcome = label_file(
        file,
        settings=state.settings,
        producer_code=producer_code,
        produce_id=produce_id,
        label=aigc_label,
        out=dst,
        in_place=in_place,
        implicit=implicit,
        explicit=explicit,
        watermark=watermark,
        c2pa=c2pa,
        sign=sign,
        soft_binding=binding,
        records=state.services.store if watermark else None,
    )
    if json_out:
        _print_json(outcome.to_dict())
        return
    state.out.print(f"labelled: {outcome.output}")
    if outcome.fields is not None:
        state.out.print(f"  implicit: {outcome.fields.to_json()}")
    if outcome.signed_with:
        state.out.print(f"  signed with {outcome.signed_with}")
    if outcome.explicit:
        state.out.print(f"  explicit: {outcome.explicit.get('summary', 'rendered')}")
    if outcome.watermark:
        state.out.print(f"  watermark: payload {outcome.watermark['payload']}")
    if outcome.c2pa:
        state.out.print("  C2PA manifest signed")
    for note in outcome.notes:
        state.err.print(f"note: {note}")


def _trusted(state: Any, trust_dir: Path | None) -> TrustedKeys:
    directory = trust_dir or state.settings.trust_dir
    try:
        trusted = TrustedKeys.from_directory(directory)
    except ConfigError:
        if trust_dir is not None:
            raise
        return TrustedKeys.empty()
    for problem in trusted.problems:
        state.err.print(f"[yellow]warning:[/] {problem}", markup=True, highlight=False)
    return trusted


_STATUS_STYLE = {
    "compliant": "green",
    "noncompliant": "red",
    "not_found": "dim",
    "inconclusive": "yellow",
}


def inspect(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="Files to inspect.", readable=False)
    ],
    trust_dir: Annotated[
        Path | None,
        typer.Option("--trust-dir", help="Public keys by provider code."),
    ] = None,
    json_out: _JsonOpt = False,
) -> None:
    """Read and check implicit labels only (fast; no content decoding).

    Exit code 1 when some file could not be read.
    """
    from deepguard.labels.inspect import inspect_label

    state = get_state(ctx)
    trusted = _trusted(state, trust_dir)
    table = Table(show_lines=False)
    for col in ("file", "status", "label", "producer", "carrier", "signatures"):
        table.add_column(col, overflow="fold", no_wrap=col in ("status", "label"))
    table.add_column("why", overflow="fold", min_width=24)
    failed = 0
    for path in files:
        try:
            found = inspect_label(path, limits=state.settings.limits, trusted=trusted)
        except DeepguardError as exc:
            failed += 1
            state.err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            if json_out:
                _print_json({"path": str(path), "error": str(exc)})
            continue
        if json_out:
            _print_json(found.to_dict())
            continue
        reading, fields = found.reading, found.reading.fields
        status = str(reading.status)
        why = (reading.problems or reading.errors or reading.warnings or ("",))[0]
        table.add_row(
            path.name,
            Text(status, style=_STATUS_STYLE.get(status, "")),
            label_text(fields.label if fields else None),
            fields.content_producer if fields else "",
            reading.carrier or "",
            ", ".join(f"{c.field}:{c.status}" for c in found.signatures),
            why,
        )
    if not json_out:
        state.out.print(table)
    if failed:
        raise typer.Exit(1)


def propagate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Uploaded file.", readable=False)],
    platform_code: Annotated[
        str, typer.Option("--platform-code", help="The platform's provider code.")
    ],
    declared_ai: Annotated[
        bool,
        typer.Option("--declared-ai", help="The uploader declared it AI-generated."),
    ] = False,
    display_label: Annotated[
        bool,
        typer.Option("--display-label", help="Also render the display notice."),
    ] = False,
    propagate_id: Annotated[
        str | None, typer.Option("--propagate-id", help="Default: a new random ID.")
    ] = None,
    sign: Annotated[
        bool | None,
        typer.Option(
            "--sign/--no-sign", help="Sign ReservedCode2 (default: if a key)."
        ),
    ] = None,
    out: _OutOpt = None,
    in_place: _InPlaceOpt = False,
) -> None:
    """Classify an upload under Art. 6 and write the propagation fields.

    Prints the decision as one JSON object (schema deepguard.propagation/1).
    """
    from deepguard.labels.propagate import propagate_file

    state = get_state(ctx)
    dst = _output(file, out, in_place, "propagated")
    decision = propagate_file(
        file,
        settings=state.settings,
        platform_code=platform_code,
        declared_ai=declared_ai,
        display_label=display_label,
        propagate_id=propagate_id,
        out=dst,
        in_place=in_place,
        sign=sign,
    )
    _print_json(decision.to_dict())
