"""``vhub replay-dispatch``: a period's coverage requests through other dispatch rules, offline."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

import typer

from vhub.cli.app import NatsUrl, app, console, nats_url_or_default


@app.command("replay-dispatch")
def replay_dispatch(
    start: Annotated[str, typer.Option("--from", help="First local date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last local date (YYYY-MM-DD), inclusive.")],
    rule: Annotated[
        list[str] | None, typer.Option(help="A rule to replay (repeat for several; 'all' for every one).")
    ] = None,
    hub: Annotated[
        str | None, typer.Option(help="Whose log (default VHUB_HUB; '*' on a central stream).")
    ] = None,
    stream: Annotated[str | None, typer.Option(help="Stream to read (default VHUB_READ_STREAM).")] = None,
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table instead.")] = False,
    nats_url: NatsUrl = None,
) -> None:
    """Replay the recorded coverage requests of a period through other dispatch rules, into a
    scratch projection in memory (the log is read by subject filter, never written), and show
    what each rule would have done beside what happened."""
    from services.dispatch.domain.rules import RULES
    from shared.settings import load_settings
    from vhub.whatif.run import replay_dispatch as run

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as err:
        raise typer.BadParameter(f"dates are YYYY-MM-DD: {err}") from None
    if last < first:
        raise typer.BadParameter("--to is before --from")
    asked = rule or ["all"]
    names = sorted(RULES) if "all" in asked else asked
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise typer.BadParameter(f"unknown rule(s) {', '.join(unknown)}: one of {', '.join(sorted(RULES))}")
    settings = load_settings()
    password = settings.nats_password.get_secret_value() if settings.nats_password else None
    comparison = asyncio.run(
        run(
            nats_url_or_default(nats_url),
            stream or settings.read_stream,
            hub or settings.hub,
            first,
            last,
            names,
            user=settings.nats_user,
            password=password,
        )
    )
    if markdown:
        typer.echo(comparison.markdown())
    else:
        console.print(comparison.rich())
