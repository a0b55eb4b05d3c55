"""Operators load border communes and service points from CSV files with the `vhub` CLI."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from shared.commands import CommandBus
from shared.settings import Settings
from tests.integration.registry.conftest import Send


async def vhub(*args: str, settings: Settings) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vhub.cli",
        *args,
        "--nats-url",
        settings.nats_url,
        env={"VHUB_HUB": settings.hub, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_import_border_communes_from_csv(
    tmp_path: Path, registry: CommandBus, provisioned: Settings, send: Send
) -> None:
    """Given a CSV of commune codes, the list is designated; an unknown code fails the import."""
    good = tmp_path / "border.csv"
    good.write_text("commune_code,name\n01273,Phường Thục Phán\n1279,Phường Nùng Trí Cao\n")
    code, out = await vhub("import", "border-communes", str(good), settings=provisioned)
    assert code == 0, out
    assert '"border_communes": 2' in out
    bad = tmp_path / "bad.csv"
    bad.write_text("commune_code\n99999\n")
    code, out = await vhub("import", "border-communes", str(bad), settings=provisioned)
    assert code == 1
    assert "unknown_commune" in out


async def test_import_service_points_from_csv(
    tmp_path: Path, registry: CommandBus, provisioned: Settings
) -> None:
    points = tmp_path / "points.csv"
    points.write_text(
        "id,name,kind,province_code,commune_code\n"
        "p1,Trung tâm Phục vụ hành chính công tỉnh Cao Bằng,provincial_service_centre,04,01273\n"
        "p2,Bộ phận một cửa,commune_one_stop,04,00070\n"  # commune outside the province
    )
    code, out = await vhub("import", "service-points", str(points), settings=provisioned)
    assert code == 1
    assert "1 of 2 service points recorded" in out
    assert "commune_outside_province" in out
