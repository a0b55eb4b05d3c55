"""The peer, side by side: the volunteer workload in the Python ``eventsourcing`` library's own
idiomatic style, on SQLite and on the machine's PostgreSQL, in the same run as vhub's figures.

The peer's shape follows the library's documentation and examples: an ``Application`` with a
``Volunteer`` aggregate (``@event`` on ``__init__``), phone uniqueness as an aggregate whose id is
derived from the phone (saved with the volunteer in one recording, so a second registration of
the phone is an ``IntegrityError``), and a ``Projection`` run by ``ProjectionRunner`` into a
materialised view that writes its counts and its tracking record in one transaction. It is a
library in the caller's process, so it pays no network hop and no fsync'd broker: the ratio reads
as "what vhub's distribution and durability cost against an in-process event store".

``pip install -e '.[bench]'`` provides it (``make bench`` installs the group).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

PROVINCES = ("Hà Nội", "Lâm Đồng", "Cao Bằng", "An Giang", "Đà Nẵng")


class Volunteer(Aggregate):
    @event("Registered")
    def __init__(self, full_name: str, phone: str, province: str, commune: str, consent: bool) -> None:
        self.full_name = full_name
        self.phone = phone
        self.province = province
        self.commune = commune
        self.consent = consent


class PhoneClaim(Aggregate):
    """One per phone: its id is derived from the phone, so a second claim cannot be recorded."""

    @staticmethod
    def create_id(phone: str, volunteer_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/vhub/phones/{phone}")

    @event("Claimed")
    def __init__(self, phone: str, volunteer_id: UUID) -> None:
        self.volunteer_id = volunteer_id


class Volunteers(Application[UUID]):
    def register(self, full_name: str, phone: str, province: str, commune: str) -> UUID | None:
        """The volunteer's id, or None when the phone is registered already."""
        volunteer = Volunteer(full_name, phone, province, commune, consent=True)
        try:
            self.save(volunteer, PhoneClaim(phone, volunteer.id))
        except IntegrityError:
            return None
        return volunteer.id


class CountsView(TrackingRecorder, ABC):
    @abstractmethod
    def add_volunteer(self, province: str, tracking: Tracking) -> None: ...

    @abstractmethod
    def volunteers(self) -> int: ...


class SQLiteCountsView(SQLiteTrackingRecorder, CountsView):
    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS volunteers_by_province "
            "(province TEXT PRIMARY KEY, volunteers INTEGER NOT NULL) WITHOUT ROWID",
        ]

    def add_volunteer(self, province: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "INSERT INTO volunteers_by_province VALUES (?, 1) "
                "ON CONFLICT (province) DO UPDATE SET volunteers = volunteers + 1",
                (province,),
            )
            self._insert_tracking(c, tracking)

    def volunteers(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT COALESCE(SUM(volunteers), 0) FROM volunteers_by_province")
            return int(c.fetchone()[0])


class PostgresCountsView(PostgresTrackingRecorder, CountsView):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.volunteers_by_province "
                "(province text PRIMARY KEY, volunteers bigint NOT NULL)"
            ).format(Identifier(self.datastore.schema))
        )

    def add_volunteer(self, province: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "INSERT INTO {0}.volunteers_by_province VALUES (%s, 1) ON CONFLICT (province) "
                    "DO UPDATE SET volunteers = {0}.volunteers_by_province.volunteers + 1"
                ).format(Identifier(self.datastore.schema)),
                (province,),
                prepare=True,
            )
            self._insert_tracking(curs, tracking)

    def volunteers(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT COALESCE(SUM(volunteers), 0) AS n FROM {0}.volunteers_by_province").format(
                    Identifier(self.datastore.schema)
                )
            )
            row = curs.fetchone()
            return int(row["n"]) if row else 0


class VolunteerCounts(Projection[CountsView]):
    """Volunteers by province. No topic filter: every event is tracked (the claims too), so the
    runner's position reaches the application's last notification, as a rebuild of vhub's does."""

    name = "volunteercounts"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def registered(self, domain_event: Volunteer.Registered, tracking: Tracking) -> None:  # type: ignore[name-defined]
        self.view.add_volunteer(domain_event.province, tracking)


def register_for(app: Volunteers, seconds: float, threads: int, offset: int) -> tuple[int, float]:
    """Registrations from ``threads`` callers for ``seconds``: (registered, elapsed)."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def caller(k: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            n = offset + k * 10_000_000 + i
            if app.register(f"Người {n}", f"+8491{n:07d}", PROVINCES[n % len(PROVINCES)], f"{n % 3321:05d}"):
                counts[k] += 1
            i += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=caller, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts), time.perf_counter() - started


def project_all(env: dict[str, str], view: type[CountsView], expected: int) -> tuple[int, float]:
    """A fresh projection of everything recorded: (events projected, seconds to catch up).

    PostgreSQL: the library's ``ProjectionRunner`` (a subscription to the application). SQLite's
    application recorder has no subscriptions in this release, so there the same projection and
    view are fed from the library's notification log (``select_notifications``), page by page.
    """
    started = time.perf_counter()
    if env["PERSISTENCE_MODULE"].endswith("postgres"):
        with ProjectionRunner(
            application_class=Volunteers, projection_class=VolunteerCounts, view_class=view, env=env
        ) as runner:
            events = runner.app.recorder.max_notification_id() or 0
            runner.wait(events, timeout=600)
            elapsed = time.perf_counter() - started
            projected = runner.view.volunteers()
    else:
        events, projected, elapsed = _pull_project(env, view, started)
    if projected != expected:
        raise RuntimeError(f"the peer projected {projected} volunteers of {expected}")
    return events, elapsed


def _pull_project(env: dict[str, str], view: type[CountsView], started: float) -> tuple[int, int, float]:
    app = Volunteers(env=env)
    factory = InfrastructureFactory[CountsView].construct(env=Environment(VolunteerCounts.name, {**env}))
    projection = VolunteerCounts(view=factory.tracking_recorder(view))
    start = (projection.view.max_tracking_id(app.name) or 0) + 1
    events = 0
    while page := app.recorder.select_notifications(start, 500):
        events += len(page)
        for n in page:
            projection.process_event(app.mapper.to_domain_event(n), Tracking(app.name, n.id))
        start = page[-1].id + 1
    elapsed = time.perf_counter() - started
    projected = projection.view.volunteers()
    app.close()
    return events, projected, elapsed


def workload(
    env: dict[str, str], view: type[CountsView], seconds: float, concurrency: tuple[int, ...]
) -> dict[str, float]:
    """Registrations/s at each number of callers, then projected events/s over all of them."""
    out: dict[str, float] = {}
    app = Volunteers(env=env)
    total = 0
    for k, threads in enumerate(concurrency):
        done, elapsed = register_for(app, seconds, threads, offset=k * 100_000_000)
        total += done
        out[f"register@{threads}"] = done / elapsed
    app.close()
    events, elapsed = project_all(env, view, total)
    out["projected_ev_s"] = events / elapsed
    out["events"] = events
    return out


def sqlite_env(path: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}


def postgres_env(url: str) -> dict[str, str]:
    """The library's settings for a ``postgresql://user@host:port/db`` URL."""
    rest = url.split("://", 1)[1]
    auth, _, hostpart = rest.rpartition("@")
    hostport, _, db = hostpart.partition("/")
    host, _, port = hostport.partition(":")
    user, _, password = auth.partition(":")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": db,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": port or "5432",
        "POSTGRES_USER": user or "postgres",
        "POSTGRES_PASSWORD": password,
        "POSTGRES_POOL_SIZE": "10",
    }
