"""A rebuild's second core: a child process that decodes and folds the raw events of a group and
hands back the statements that write it.

The rebuild's own process pulls and writes; the worker gets each pulled part of a group as it
arrives (stream sequences and raw bodies), decodes it (:func:`services.reporting.decoding.decode_bytes`:
the live projection's decoder, so an unreadable event is counted as the live projection
dead-letters it) and folds it at once into the group's changes (:func:`fold_into`). On a cut it
settles the group, plans its statements (:class:`services.reporting.plan.Planner`) and answers with
them and the group's checkpoint summary: the group is written while the worker folds the next one.
The worker keeps the new colour's entity rows (:class:`Loaded`): it is their only writer.

The child is spawned (the parent has threads), is a daemon of the rebuild's process, and ends when
its request pipe closes: a parent that dies leaves no orphan. A child that dies fails the rebuild
with :class:`FoldWorkerError` at its next send or answer, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import traceback
from collections.abc import Awaitable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from services.reporting import models as m
from services.reporting.decoding import decode_bytes
from services.reporting.plan import Planner
from services.reporting.projections import Changes, Loaded, fold_into
from services.reporting.store import Folded, GroupSummary

CUT = "cut"
# Decoding and folding make millions of short-lived, acyclic objects while the group's and the
# memory's live ones pile up: at the default thresholds (700, 10, 10) the collector took a third
# of the worker's CPU (29.5 vs 19.5 µs per event, 100,000 bench events); collect 70 times less often.
FEW_COLLECTIONS = (50_000, 50, 100)
# Parts handed over but not yet taken by the worker before feeding waits: about 32,000 raw events
# (some 20 MB), which also lets the pull run ahead while the worker is still importing.
MAX_UNSENT = 32


class FoldWorkerError(RuntimeError):
    """The fold worker failed or exited: the rebuild cannot go on."""


class FoldWorker:
    """The parent's side: :meth:`feed` parts in stream order, :meth:`cut` a group, :meth:`close`."""

    def __init__(self, *, postgres: bool, provenance: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        requests, self._requests = ctx.Pipe(duplex=False)
        self._replies, replies = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=serve,
            args=(requests, replies, postgres, provenance),
            name="vhub-rebuild-fold",
            daemon=True,
        )
        self._process.start()
        requests.close()  # the child's ends: a dead child then shows as EOF here
        replies.close()
        self._send = ThreadPoolExecutor(1, thread_name_prefix="fold-send")  # one at a time, in order
        self._recv = ThreadPoolExecutor(1, thread_name_prefix="fold-recv")
        self._unsent: list[Future[None]] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def feed(self, seqs: list[int], bodies: list[bytes]) -> None:
        """Hand over the next part of the group (waits only when the worker is far behind)."""
        self._unsent = [f for f in self._unsent if not f.done() or self._check(f)]
        if len(self._unsent) >= MAX_UNSENT:
            with contextlib.suppress(Exception):  # raised by _check, with the worker's exit code
                await asyncio.wrap_future(self._unsent[0])
            self._check(self._unsent.pop(0))
        self._unsent.append(self._send.submit(self._requests.send, (seqs, bodies)))

    def cut(self, colour: m.Colour) -> Awaitable[Folded]:
        """End the group here (queued now, after every part fed): its statements into ``colour``'s
        tables, when folded."""
        sent = self._send.submit(self._requests.send, (CUT, colour))
        answer = self._recv.submit(self._replies.recv)
        return self._answer(sent, answer)

    async def _answer(self, sent: Future[None], answer: Future[Any]) -> Folded:
        try:
            await asyncio.wrap_future(sent)
            kind, body = await asyncio.wrap_future(answer)
        except (EOFError, OSError) as err:
            raise FoldWorkerError(f"fold worker exited ({self._process.exitcode}): {err!r}") from err
        if kind != "ok":
            raise FoldWorkerError(f"fold worker failed: {body}")
        folded: Folded = body
        return folded

    def _check(self, sent: Future[None]) -> bool:
        """False for a part that went; raises if it could not (the worker is gone)."""
        err = sent.exception()
        if err is not None:
            raise FoldWorkerError(f"fold worker exited ({self._process.exitcode}): {err!r}") from err
        return False

    async def close(self, *, kill: bool = False) -> None:
        """Stop the worker (at once with ``kill``, else after what it was given) and reap it."""
        if kill:
            self._process.kill()
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.wrap_future(self._send.submit(self._requests.send, None)), 5)
        self._requests.close()  # EOF for the worker, whatever state it is in
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()
            await asyncio.to_thread(self._process.join, 5)
        self._replies.close()
        self._send.shutdown(wait=False, cancel_futures=True)
        self._recv.shutdown(wait=False, cancel_futures=True)


class _Group:
    """A group being folded in the worker: its parts' summaries and its unsettled changes."""

    def __init__(self, memory: Loaded, provenance: bool) -> None:
        self.parts: list[GroupSummary] = []  # not the decoded events: only their changes are kept
        self.changes = Changes(state=memory)
        if provenance:
            self.changes.trail = []

    def add(self, seqs: list[int], bodies: list[bytes]) -> None:
        part = [decode_bytes(seq, raw)[0] for seq, raw in zip(seqs, bodies, strict=True)]
        self.parts.append(GroupSummary.of(part))
        fold_into(
            self.changes,
            [i.event for i in part if i.event is not None],
            [(i.seq, i.hub, i.recorded_at) for i in part if i.event is not None],
        )


def serve(requests: Connection, replies: Connection, postgres: bool, provenance: bool) -> None:
    """The worker's loop: parts, cuts, and None (or EOF) to end."""
    gc.freeze()  # the imported modules: never scanned again
    gc.set_threshold(*FEW_COLLECTIONS)
    memory, planner = Loaded(), Planner(postgres)
    group = _Group(memory, provenance)
    try:
        while True:
            try:
                message = requests.recv()
            except EOFError:
                return  # the rebuild is gone
            if message is None:
                return
            if message[0] == CUT:
                summary = GroupSummary.joined(group.parts)
                statements = planner.plan(m.TABLES[message[1]], group.changes.settle())
                replies.send(("ok", Folded(summary, statements)))
                group = _Group(memory, provenance)
            else:
                group.add(*message)
    except Exception:
        with contextlib.suppress(Exception):
            replies.send(("error", traceback.format_exc()[-2000:]))
