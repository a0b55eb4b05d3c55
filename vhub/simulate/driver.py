"""Sends a plan through the public command subjects only, as an outside system would.

Bounded concurrency inside a phase, phases in order. Ids the services hand out are remembered
under the step's ``saves`` key for later steps. A command with no answer yet is resent with the
same command id until it is answered (safe: commands are idempotent), and an answer to any of its
attempts counts (vhub/simulate/resend.py); refusals that only mean "not known there yet" (dispatch
keeps its own projection of registry facts) are retried with back-off until a deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client

from vhub.simulate.model import Noise, Phase, Plan, Ref, Step
from vhub.simulate.progress import PhaseProgress
from vhub.simulate.resend import Resender

# Refusals worth resending: "not yet known here" while a projection catches up, and the ones whose
# reason says "send the command again" (a write that lost its optimistic-concurrency retries, an
# internal error before anything was recorded).
TRANSIENT = frozenset({"unknown_team", "unknown_service_point", "internal_error", "concurrency_conflict"})
MAX_UNEXPECTED_KEPT = 50
# Commands that do a day's work in one go (close_day marks every unattended shift of the day a
# no-show): measured at scale 1.0, one took longer than the usual 10 s answer window.
SLOW_COMMANDS = {"close_day": 120.0}


# Where a step goes: (subject, body) pairs; by default its plain subject (the hub the client is
# connected to). vhub/simulate/hubs.py sends each to the hub that owns it, and hub-wide ones to each.
Route = Callable[["Step", dict[str, Any]], list[tuple[str, Mapping[str, Any]]]]


def plain_route(step: Step, body: dict[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(step.subject, body)]


class MissingRefError(LookupError):
    """An earlier command that should have created this id did not."""


@dataclass
class Tally:
    """What came back, for the whole run."""

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    noise_seen: Counter[Noise] = field(default_factory=Counter)
    unexpected: int = 0
    unexpected_samples: list[str] = field(default_factory=list)
    skipped: int = 0
    timeouts: int = 0
    transient_retries: int = 0
    transient_codes: Counter[str] = field(default_factory=Counter)
    max_version: int = 0

    def surprise(self, text: str) -> None:
        self.unexpected += 1
        if len(self.unexpected_samples) < MAX_UNEXPECTED_KEPT:
            self.unexpected_samples.append(text)


@dataclass(frozen=True)
class PhaseTime:
    """How long one phase took, from its first command sent to its last answer."""

    name: str
    commands: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0


class Driver:
    def __init__(
        self,
        nc: Client,
        *,
        concurrency: int = 64,
        correlation_id: str = "simulate",
        request_timeout: float = 10.0,
        transient_deadline: float = 60.0,
        route: Route = plain_route,
        answer_deadline: float = 600.0,
    ) -> None:
        self._nc = nc
        self._route = route
        self._concurrency = concurrency
        self._correlation = correlation_id
        self._timeout = request_timeout
        self._transient_deadline = transient_deadline
        self._answer_deadline = answer_deadline
        self._resender: Resender | None = None
        self.ids: dict[str, str] = {}
        self.tally = Tally()
        # A replay (this run id was applied before): planned refusals are re-decided against the
        # state the first run left (a day since closed, a report since accepted), so any refusal
        # code will do for them.
        self.replay = False
        self.on_phase: Callable[[str], None] | None = None  # told as each phase starts
        self.on_answered: Callable[[int], None] | None = None  # told the count after each step
        self.answered = 0
        self.phase_times: list[PhaseTime] = []

    async def run(self, plan: Plan, progress: PhaseProgress) -> None:
        self._resender = Resender(
            self._nc,
            self.tally,
            answer_deadline=self._answer_deadline,
            transient_deadline=self._transient_deadline,
        )
        await self._resender.start()
        try:
            for n, phase in enumerate(plan.phases):
                if self.on_phase is not None:
                    self.on_phase(phase.name)
                await self.run_phase(phase, progress)
                if n == 0:
                    t = self.tally
                    self.replay = t.accepted > 0 and t.duplicates == t.accepted
        finally:
            await self._resender.stop()

    async def run_phase(self, phase: Phase, progress: PhaseProgress) -> None:
        steps = phase.steps()
        task = progress.start(phase.name, phase.size)
        began = time.perf_counter()

        async def worker() -> None:
            for step in steps:  # one shared iterator: each step is taken by exactly one worker
                refused = await self.send(step)
                progress.advance(task, refused)
                self.answered += 1
                if self.on_answered is not None:
                    self.on_answered(self.answered)

        await asyncio.gather(*(worker() for _ in range(min(self._concurrency, phase.size or 1))))
        self.phase_times.append(PhaseTime(phase.name, phase.size, time.perf_counter() - began))
        progress.finish(task)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            try:
                return self.ids[value.key]
            except KeyError:
                raise MissingRefError(value.key) from None
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    async def send(self, step: Step) -> bool:
        """Send one step until it has a final answer; True when it was refused."""
        try:
            body = {k: self.resolve(v) for k, v in step.body.items()}
        except MissingRefError as err:
            self.tally.skipped += 1
            self.tally.surprise(f"{step.name} {step.command_id}: no id for {err}")
            return True
        body.update(command_id=step.command_id, correlation_id=self._correlation, actor="vhub-simulate")
        refused = False
        for subject, one in self._route(step, body):
            reply = await self._request(step, subject, json.dumps(one).encode())
            self._record(step, reply)
            refused = refused or not reply.get("accepted", False)
        return refused

    async def _request(self, step: Step, subject: str, raw: bytes) -> dict[str, Any]:
        assert self._resender is not None, "run() starts the resender"
        t = self.tally

        def not_yet(answer: dict[str, Any]) -> bool:
            code = answer.get("code")
            if answer.get("accepted") or code not in TRANSIENT or code == step.expect.code:
                return False
            t.transient_retries += 1
            t.transient_codes[str(code)] += 1
            return True

        timeout = max(self._timeout, SLOW_COMMANDS.get(step.name, 0.0))
        return await self._resender.ask(subject, raw, wait_s=timeout, transient=not_yet)

    def _record(self, step: Step, reply: dict[str, Any]) -> None:
        t = self.tally
        accepted = bool(reply.get("accepted"))
        if accepted:
            t.accepted += 1
            t.duplicates += bool(reply.get("duplicate"))
            t.max_version = max(t.max_version, int(reply.get("version") or 0))
            if step.saves:
                self._save(step.saves, reply)
        else:
            t.refused[str(reply.get("code"))] += 1
        want = step.expect
        code_ok = want.code is None or reply.get("code") == want.code or self.replay
        ok = accepted == want.accepted and code_ok
        if want.duplicate:
            ok = ok and bool(reply.get("duplicate"))
        if not ok:
            t.surprise(
                f"{step.name} {step.command_id}: expected "
                f"{'accepted' if want.accepted else want.code}"
                f"{' (duplicate)' if want.duplicate else ''}, got "
                f"{'accepted' if accepted else reply.get('code')}: {reply.get('reason', '')}"
            )
        elif step.noise is not None:
            t.noise_seen[step.noise] += 1

    def _save(self, key: str, reply: dict[str, Any]) -> None:
        result = reply.get("result") or {}
        self.ids[key] = str(result.get("dispatch_id") or result.get("request_id") or reply["aggregate_id"])
        for n, d in enumerate(result.get("dispatches") or []):
            self.ids[f"{key}.{n}"] = str(d["dispatch_id"])
