"""PostgreSQL for tests: ``VHUB_TEST_DATABASE_URL``, else a private cluster (initdb + pg_ctl on a
free port in a temp dir) when the binaries exist. Each test gets a database of its own."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from shared.natsserver import free_port


@contextlib.contextmanager
def postgres_admin_url() -> Iterator[str | None]:
    """A URL of a server where we may CREATE DATABASE, or None when there is none to be had."""
    url = os.environ.get("VHUB_TEST_DATABASE_URL")
    if url:
        yield url
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="vhub-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the private cluster as 'postgres'
        user = pwd.getpwnam("postgres")
        os.chown(tmp, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = tmp / "data"
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "postgres", "--no-sync", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-w",
            "-l",
            str(tmp / "log"),
            "-o",
            f"-p {port} -k {tmp} -h 127.0.0.1 -F",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


async def create_database(admin_url: str) -> str:
    """A fresh database; returns its SQLAlchemy asyncpg URL."""
    name = f"vhub_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"
