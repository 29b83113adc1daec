"""`flask privacy export|erase CANDIDATE` (an id or an email address)."""

from __future__ import annotations

import json

import click

from app.privacy import bp, services


def _candidate(ref: str):
    candidate = services.find_candidate(ref)
    if candidate is None:
        raise click.ClickException(f"No candidate {ref!r}.")
    return candidate


@bp.cli.command("export")
@click.argument("candidate")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
def export_cmd(candidate: str, output) -> None:
    """Write everything held about CANDIDATE as JSON (to stdout, or --output FILE)."""
    data = services.export_candidate(_candidate(candidate))
    output.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@bp.cli.command("erase")
@click.argument("candidate")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_cmd(candidate: str, yes: bool) -> None:
    """Anonymise CANDIDATE's personal data; message records stay as proof, without content."""
    c = _candidate(candidate)
    if not yes:
        click.confirm(
            f"Erase the personal data of candidate {c.id}? This cannot be undone", abort=True
        )
    try:
        done = services.erase_candidate(c)
    except services.PrivacyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Erased candidate {c.id}: {done['withdrawn']} application(s) withdrawn, "
        f"{done['settled']} owed message(s) settled, "
        f"{done['messages_kept_as_proof']} message record(s) kept as proof."
    )
