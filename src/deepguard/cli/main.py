"""The ``deepguard`` command line: thin commands over the library.

Exit codes: 0 success, 1 some inputs failed, 2 usage or input errors,
3 an external dependency failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deepguard import __version__
from deepguard.cli._state import AppState
from deepguard.cli.demo import demo
from deepguard.cli.history import history, show
from deepguard.cli.keys import keys_app
from deepguard.cli.labels import inspect, label, propagate
from deepguard.cli.people import people_app
from deepguard.cli.scan import scan
from deepguard.cli.watermark import watermark_app
from deepguard.errors import DeepguardError, DependencyError

__all__ = ["app", "main"]

app = typer.Typer(
    name="deepguard",
    help="Label AI-generated content and stop AI impersonation of real people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deepguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="DEEPGUARD_HOME",
            help="Data directory (default ~/.deepguard).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", envvar="DEEPGUARD_CONFIG", help="TOML configuration file."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """deepguard: AIGC labels, provenance and impersonation defence."""
    state = AppState(home=home, config=config)
    ctx.obj = state
    ctx.call_on_close(state.close)


app.command("scan")(scan)
app.command("history")(history)
app.command("show")(show)
app.command("demo")(demo)
app.command("label")(label)
app.command("inspect")(inspect)
app.command("propagate")(propagate)
app.add_typer(keys_app, name="keys")
app.add_typer(watermark_app, name="watermark")
app.add_typer(people_app, name="people")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map library errors to exit codes and one-line messages."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app(args=argv, prog_name="deepguard", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except DeepguardError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        if isinstance(exc, DependencyError):
            return 3
        return 2 if exc.user_error else 1
    except typer.Abort:
        err.print("aborted")
        return 130
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except OSError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        return 1
    return 0
