"""``deepguard people``: the registry of protected people.

Thin over :class:`deepguard.likeness.registry.Registry`: parse, call, print.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from deepguard.accounts import AccountRef
from deepguard.cli._state import AppState, get_state
from deepguard.errors import ConfigError

if TYPE_CHECKING:
    from deepguard.likeness.registry import EnrolReport, Registry

__all__ = ["people_app"]

people_app = typer.Typer(
    help="Enrol protected people: faces, voices, official accounts, licences.",
    no_args_is_help=True,
)

PersonArg = Annotated[str, typer.Argument(help="Person id, or a name or alias.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _registry(state: AppState) -> Registry:
    # Imported here: the face and voice engines pull in dlib and torch, which
    # every other command would otherwise pay for at start-up.
    from deepguard.likeness.registry import Registry

    return Registry.for_store(state.services.store, state.settings)


def _emit(state: AppState, data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


def _report(
    state: AppState, reports: tuple[EnrolReport, ...] | list[EnrolReport]
) -> int:
    """Print each file's outcome; the number of rejected files."""
    rejected = 0
    for report in reports:
        for outcome in report.files:
            if outcome.reason and outcome.outcome == "rejected":
                rejected += 1
                state.err.print(f"[red]rejected:[/] {outcome.message}", markup=True)
            else:
                state.out.print(outcome.message)
    return rejected


def _when(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"{option} {text!r} is not an ISO date or date-time (2026-12-31)"
        raise ConfigError(msg) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@people_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's name.")],
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="Another name (repeatable).")
    ] = None,
    notes: Annotated[str, typer.Option("--notes", help="Free text.")] = "",
    verification: Annotated[
        str,
        typer.Option(
            "--verification",
            help="How the identity was checked: unverified, self_declared, "
            "document_checked or platform_verified.",
        ),
    ] = "unverified",
    face: Annotated[
        list[Path] | None,
        typer.Option("--face", help="Reference photo with one face (repeatable)."),
    ] = None,
    voice: Annotated[
        list[Path] | None,
        typer.Option("--voice", help="Reference clip, >= 5 s of speech (repeatable)."),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            metavar="PLATFORM:HANDLE",
            help="Official account (repeatable).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Enrol a person; with --face/--voice/--account, all of it or nothing."""
    state = get_state(ctx)
    accounts = [AccountRef.parse(a) for a in account or ()]
    person, reports = _registry(state).enrol_person(
        name,
        aliases=alias or (),
        notes=notes,
        verification=verification,
        faces=face or (),
        voices=voice or (),
        accounts=[(a.platform, a.handle) for a in accounts],
    )
    if json_out:
        _emit(
            state,
            {
                "person": person.to_dict() if person else None,
                "reports": [r.to_dict() for r in reports],
            },
        )
    else:
        _report(state, reports)
    if person is None:
        state.err.print(f"[red]error:[/] {name} was not enrolled", markup=True)
        raise typer.Exit(1)
    if not json_out:
        state.out.print(f"enrolled {person.name} (id {person.id})")


def _enrol(
    ctx: typer.Context, who: str, files: list[Path], json_out: bool, kind: str
) -> None:
    state = get_state(ctx)
    registry = _registry(state)
    person = registry.resolve(who)
    if kind == "face":
        report = registry.enrol_faces(person.id, files)
    else:
        report = registry.enrol_voices(person.id, files)
    if json_out:
        _emit(state, report.to_dict())
    else:
        _report(state, [report])
    if not report.saved:
        state.err.print(
            f"[red]error:[/] nothing enrolled for {person.name}: fix or drop the "
            "rejected file(s)",
            markup=True,
        )
        raise typer.Exit(1)


@people_app.command("enrol-face")
def enrol_face(
    ctx: typer.Context,
    who: PersonArg,
    photos: Annotated[list[Path], typer.Argument(help="Photos, one face each.")],
    json_out: JsonOpt = False,
) -> None:
    """Add reference photos: all are stored, or none if any is rejected."""
    _enrol(ctx, who, photos, json_out, "face")


@people_app.command("enrol-voice")
def enrol_voice(
    ctx: typer.Context,
    who: PersonArg,
    clips: Annotated[list[Path], typer.Argument(help="Clips, >= 5 s of speech.")],
    json_out: JsonOpt = False,
) -> None:
    """Add reference voice clips: all are stored, or none if any is rejected."""
    _enrol(ctx, who, clips, json_out, "voice")


@people_app.command("accounts")
def accounts(
    ctx: typer.Context,
    who: PersonArg,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", metavar="PLATFORM:HANDLE", help="Register (repeatable)."),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option("--remove", metavar="PLATFORM:HANDLE", help="Unregister."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List a person's official accounts; --add and --remove change them."""
    state = get_state(ctx)
    registry = _registry(state)
    person = registry.resolve(who)
    for text in add or ():
        ref = AccountRef.parse(text)
        registry.add_account(person.id, ref.platform, ref.handle)
    for text in remove or ():
        ref = AccountRef.parse(text)
        registry.remove_account(person.id, ref.platform, ref.handle)
    listed = registry.show(person.id).accounts
    if json_out:
        _emit(state, [a.to_dict() for a in listed])
        return
    for a in listed:
        state.out.print(f"{a.platform}:{a.handle}")
    if not listed:
        state.out.print(f"{person.name} has no official accounts")


@people_app.command("authorise")
def authorise(
    ctx: typer.Context,
    who: PersonArg,
    grantee: Annotated[
        str, typer.Argument(help="PLATFORM:HANDLE of a licensed account, or a name.")
    ],
    scope: Annotated[
        str, typer.Option("--scope", help="face, voice or both.")
    ] = "both",
    valid_from: Annotated[
        str | None, typer.Option("--from", help="Start (ISO date, inclusive).")
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option("--until", help="End (ISO date, exclusive).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Contract reference.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Licence an account (or a named licensee) to use the likeness."""
    state = get_state(ctx)
    registry = _registry(state)
    person = registry.resolve(who)
    grant = registry.authorise(
        person.id,
        grantee,
        scope,
        valid_from=_when(valid_from, "--from"),
        valid_until=_when(valid_until, "--until"),
        note=note,
    )
    if json_out:
        _emit(state, grant.to_dict())
        return
    state.out.print(
        f"authorised {grant.grantee} for {person.name}'s {grant.scope} "
        f"(grant {grant.id})"
    )


@people_app.command("list")
def list_people(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Everyone enrolled, with their reference counts."""
    state = get_state(ctx)
    registry = _registry(state)
    details = [registry.show(p.id) for p in registry.list()]
    if json_out:
        for d in details:
            row = d.person.to_dict()
            row |= {"faces": len(d.faces), "voices": len(d.voices)}
            row["accounts"] = [f"{a.platform}:{a.handle}" for a in d.accounts]
            _emit(state, row)
        return
    table = Table(title=f"{len(details)} protected people")
    for col in ("id", "name", "aliases", "verification", "faces", "voices", "accounts"):
        table.add_column(col)
    for d in details:
        p = d.person
        table.add_row(
            str(p.id),
            p.name,
            ", ".join(p.aliases),
            str(p.verification),
            str(len(d.faces)),
            str(len(d.voices)),
            ", ".join(f"{a.platform}:{a.handle}" for a in d.accounts),
        )
    state.out.print(table)


@people_app.command("show")
def show(ctx: typer.Context, who: PersonArg, json_out: JsonOpt = False) -> None:
    """One person: references, accounts and licences."""
    state = get_state(ctx)
    registry = _registry(state)
    detail = registry.show(registry.resolve(who).id)
    if json_out:
        _emit(state, detail.to_dict())
        return
    p = detail.person
    state.out.print(f"[bold]{p.name}[/] (id {p.id}, {p.verification})", markup=True)
    if p.aliases:
        state.out.print("aliases: " + ", ".join(p.aliases))
    for r in detail.faces:
        state.out.print(f"face {r.id}: {r.source} quality {r.quality:.2f} box {r.box}")
    for v in detail.voices:
        state.out.print(f"voice {v.id}: {v.source} {v.speech_s:.1f} s of speech")
    for a in detail.accounts:
        state.out.print(f"official account: {a.platform}:{a.handle}")
    for g in detail.authorisations:
        window = f"{g.valid_from or '…'} to {g.valid_until or '…'}"
        state.out.print(f"licence {g.id}: {g.grantee} for {g.scope}, {window}")


@people_app.command("remove")
def remove(
    ctx: typer.Context,
    who: PersonArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Remove a person with all their references, accounts and licences."""
    state = get_state(ctx)
    registry = _registry(state)
    person = registry.resolve(who)
    if not yes and not typer.confirm(f"remove {person.name} (id {person.id})?"):
        raise typer.Exit(1)
    registry.remove(person.id)
    state.out.print(f"removed {person.name} (id {person.id})")
