"""The demo job: real commands through the public API, then what happened, as a table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from vhub.client import CommandClient

VOLUNTEERS = [
    ("Nguyễn Minh Anh", "0912000001", "2003-02-11", "01", "00070", "youth_union"),
    ("Trần Quốc Bảo", "0912000002", "2001-09-23", "01", "00070", "student_association"),
    ("Lê Thu Hà", "+84 912 000 003", "2004-05-30", "01", "00073", "youth_union"),
    ("Phạm Đức Huy", "0912000004", "1999-12-01", "01", "00004", "public_security_youth"),
    ("Hoàng Mai Linh", "0912000005", "2002-07-17", "79", "26506", "student_association"),
    ("Vũ Thành Nam", "0912000006", "2000-03-08", "04", "01273", "youth_union"),
]


async def run_registry_demo(client: CommandClient, console: Console) -> list[dict[str, Any]]:
    """Register volunteers, form teams, add members, register a point; print every reply."""
    table = Table(title="vhub demo: commands through vhub.cmd.registry.*")
    for col in ("command", "accepted", "aggregate / code", "version / reason"):
        table.add_column(col)
    replies: list[dict[str, Any]] = []

    async def do(name: str, body: dict[str, Any], command_id: str) -> dict[str, Any]:
        reply = await client.send("registry", name, body, command_id=command_id)
        replies.append(reply)
        ok = reply["accepted"]
        table.add_row(
            name,
            "yes" if ok else "no",
            reply["aggregate_id"] if ok else reply["code"],
            str(reply["version"]) if ok else reply["reason"],
        )
        return reply

    vols = []
    for i, (name, phone, born, prov, commune, aff) in enumerate(VOLUNTEERS):
        r = await do(
            "register_volunteer",
            {
                "full_name": name,
                "phone": phone,
                "birth_date": born,
                "province_code": prov,
                "commune_code": commune,
                "affiliation": aff,
                "skills": ["digital skills"],
                "consent": True,
            },
            f"demo-vol-{i}",
        )
        vols.append(r.get("aggregate_id"))
    await do(
        "register_volunteer",
        {  # the same phone in its +84 form: refused
            "full_name": "Nguyễn Minh Anh",
            "phone": "+84912000001",
            "birth_date": "2003-02-11",
            "province_code": "01",
            "commune_code": "00070",
            "affiliation": "youth_union",
            "consent": True,
        },
        "demo-vol-dup",
    )
    team = await do(
        "form_team",
        {
            "name": "Đội hình chuyển đổi số Hoàn Kiếm",
            "province_code": "01",
            "commune_code": "00070",
            "focus": "digital_skills",
            "organisation": "Đoàn Thanh niên phường Hoàn Kiếm",
        },
        "demo-team-1",
    )
    for i, vol in enumerate(vols[:4]):
        await do(
            "add_team_member", {"team_id": team["aggregate_id"], "volunteer_id": vol}, f"demo-member-{i}"
        )
    await do(
        "appoint_team_leader", {"team_id": team["aggregate_id"], "volunteer_id": vols[0]}, "demo-leader-1"
    )
    await do(
        "register_service_point",
        {
            "name": "Trung tâm Phục vụ hành chính công phường Hoàn Kiếm",
            "kind": "commune_one_stop",
            "province_code": "01",
            "commune_code": "00070",
        },
        "demo-point-1",
    )
    await do("designate_border_communes", {"commune_codes": ["01273"]}, "demo-border-1")
    console.print(table)
    return replies
