"""``deepguard keys``: signing keys for ReservedCode1/2 integrity fields."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deepguard.cli._state import get_state
from deepguard.labels.keys import KeyStore

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Create, list and export label-signing keys.", no_args_is_help=True
)


def _store(ctx: typer.Context) -> KeyStore:
    return KeyStore(get_state(ctx).settings.keys_dir)


@keys_app.command("create")
def create(
    ctx: typer.Context,
    provider_code: Annotated[
        str, typer.Option("--provider-code", help="Code the key signs for.")
    ],
    algorithm: Annotated[
        str, typer.Option("--algorithm", "-a", help="ed25519 (default) or sm2.")
    ] = "ed25519",
    name: Annotated[str | None, typer.Option("--name", help="Key name.")] = None,
) -> None:
    """Generate a key pair; the private key stays in the key store (mode 0600)."""
    info = _store(ctx).create(provider_code, algorithm=algorithm, name=name)
    get_state(ctx).out.print(
        f"created {info.algorithm} key {info.name} (kid {info.kid}) "
        f"for {info.provider_code}"
    )


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List signing keys (never the secrets)."""
    keys = _store(ctx).list()
    state = get_state(ctx)
    if json_out:
        for info in keys:
            typer.echo(json.dumps(asdict(info)))
        return
    table = Table(title=f"{len(keys)} key(s) in {_store(ctx).directory}")
    for col in ("name", "provider code", "algorithm", "kid", "created"):
        table.add_column(col)
    for info in keys:
        table.add_row(
            info.name, info.provider_code, info.algorithm, info.kid, info.created
        )
    state.out.print(table)


@keys_app.command("export")
def export(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key name or kid.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", "-o", help="Directory for <code>.<kid>.pem."),
    ] = Path("."),
) -> None:
    """Write the public key as PEM, named for a verifier's trust directory."""
    path = _store(ctx).export_public(key, out_dir)
    get_state(ctx).out.print(str(path))
