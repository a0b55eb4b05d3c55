"""``vhub dlq list|show|replay``: the dead letters of a hub (vhub/dlq.py does the work)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from shared.settings import load_settings
from vhub.cli.app import NatsUrl, app, console, operator_connection
from vhub.dlq import DeadLetterStore, Letter, ReplayRefused, fixed_checks

dlq_app = typer.Typer(help="Dead letters: list, inspect, replay.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
Hub = Annotated[str | None, typer.Option(help="The hub whose DLQ stream to read (default VHUB_HUB).")]
T = TypeVar("T")
DURATION_RE = re.compile(r"^(\d+)([smhd])$")
VALIDATION_CODES = frozenset({"invalid_fact", "invalid_command"})  # the body's shape, not the log


def _run(nats_url: str | None, hub: str | None, job: Callable[[DeadLetterStore], Awaitable[T]]) -> T:
    over = {k: v for k, v in (("nats_url", nats_url), ("hub", hub)) if v}
    settings = load_settings(**over)

    async def go() -> T:
        nc = await operator_connection(settings, "vhub-dlq")
        try:
            return await job(DeadLetterStore(nc.jetstream(), stream=settings.dlq_stream, hub=settings.hub))
        finally:
            await nc.drain()

    return asyncio.run(go())


def _since(text: str | None) -> datetime | None:
    """``30m``, ``2h``, ``7d`` ago, or an ISO time."""
    if not text:
        return None
    m = DURATION_RE.match(text)
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(m.group(1))})
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--since takes 30m, 2h, 7d or an ISO time, not {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dlq_app.command("list")
def list_letters(
    source: Annotated[str | None, typer.Option(help="Only this source (e.g. dispatch_ingest).")] = None,
    since: Annotated[str | None, typer.Option(help="Only letters since: 30m, 2h, 7d or an ISO time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """The dead letters, oldest first (never their bodies)."""
    after = _since(since)
    letters = _run(nats_url, hub, lambda store: store.letters(source, after))
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(_summary(letter), ensure_ascii=False))
        return
    table = Table(title=f"{len(letters)} dead letters", title_justify="left")
    for col in ("seq", "time", "source", "code", "original subject", "orig seq", "replay", "reason"):
        table.add_column(col, overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.seq),
            f"{letter.time:%Y-%m-%d %H:%M:%S}" if letter.time else "-",
            letter.source,
            letter.code,
            letter.subject,
            str(letter.original_seq or "-"),
            letter.state,
            letter.reason[:120],
        )
    console.print(table)


@dlq_app.command("show")
def show(
    seq: int,
    body: Annotated[bool, typer.Option(help="Also print the body (it may hold personal data).")] = False,
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """One letter: reason, source, original subject and sequence, headers, replay state."""
    try:
        letter = _run(nats_url, hub, lambda store: store.letter(seq))
    except KeyError:
        console.print(f"[red]no dead letter at {seq}[/]")
        raise typer.Exit(1) from None
    out = _summary(letter) | {"headers": letter.headers, "replay": letter.replay}
    out["replayable"] = letter.not_replayable() or "yes"
    if body:
        text = letter.body.decode("utf-8", errors="replace")
        try:
            out["body"] = json.loads(text)
        except ValueError:
            out["body"] = text
    typer.echo(json.dumps(out, default=str, ensure_ascii=False, indent=2))


@dlq_app.command("replay")
def replay(
    seq: Annotated[int | None, typer.Argument(help="The letter's sequence in the DLQ stream.")] = None,
    all_fixed: Annotated[
        bool, typer.Option(help="Every letter not yet replayed whose body the current code accepts.")
    ] = False,
    source: Annotated[str | None, typer.Option(help="With --all-fixed: only this source.")] = None,
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """Re-submit a letter to its original subject, exactly once (a replayed letter is marked)."""
    if (seq is None) == (not all_fixed):
        raise typer.BadParameter("give a SEQ or --all-fixed (not both)")
    if seq is not None:
        try:
            done = _run(nats_url, hub, lambda store: store.replay(seq))
        except (ReplayRefused, KeyError) as err:
            why = str(err) if isinstance(err, ReplayRefused) else "no such letter"
            console.print(f"[red]not replayed[/]: {why}")
            raise typer.Exit(1) from None
        console.print(f"[green]replayed[/] {seq} to {done['to']} ({done['stream']} seq {done['seq']})")
        return
    replayed, skipped = _run(nats_url, hub, lambda store: _replay_fixed(store, source))
    for s, why in skipped:
        console.print(f"skipped {s}: {why}")
    console.print(f"[green]{len(replayed)} replayed[/], {len(skipped)} skipped")


async def _replay_fixed(
    store: DeadLetterStore, source: str | None
) -> tuple[list[int], list[tuple[int, str]]]:
    checks = fixed_checks()
    replayed: list[int] = []
    skipped: list[tuple[int, str]] = []
    for letter in await store.letters(source):
        if letter.state in ("replayed", "claimed"):
            continue  # done, or someone's replay is under way: never twice
        why = letter.not_replayable() or _still_refused(letter, checks)
        if why:
            skipped.append((letter.seq, why))
            continue
        try:
            await store.replay(letter.seq)
        except ReplayRefused as err:
            skipped.append((letter.seq, str(err)))
        else:
            replayed.append(letter.seq)
    return replayed, skipped


def _still_refused(letter: Letter, checks: dict[str, Callable[[bytes], object]]) -> str | None:
    """Why the current code would refuse the letter again (None: its cause is fixed). Only a body
    that failed validation can be judged here; a rule refusal (an unknown dispatch, a report
    before check-in) depends on the log's state: replay such a letter by its SEQ."""
    check = checks.get(letter.source)
    if check is None:
        return f"no check for source {letter.source}: replay it by its SEQ once its cause is fixed"
    if letter.code not in VALIDATION_CODES:
        return f"refused by a rule ({letter.code}): replay it by its SEQ once its cause is fixed"
    try:
        check(letter.body)
    except ValueError as err:
        return f"still refused: {str(err)[:200]}"
    return None


def _summary(letter: Letter) -> dict[str, Any]:
    return {
        "seq": letter.seq,
        "time": letter.time.isoformat() if letter.time else None,
        "source": letter.source,
        "code": letter.code,
        "reason": letter.reason,
        "subject": letter.subject,
        "original_seq": letter.original_seq,
        "replay": letter.state,
    }
