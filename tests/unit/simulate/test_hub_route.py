"""Routing a scenario across linked hubs (vhub/simulate/hubs.py): each command to the hub that owns
it, from its province or its ids alone; hub-wide commands to every hub, border communes split."""

from __future__ import annotations

from typing import Any

from shared.ownership import owned_id
from vhub.simulate.hubs import hub_route
from vhub.simulate.model import Step

HUBS = ["hn", "hcm", "ct"]
route = hub_route(HUBS)


def subjects(step: Step, body: dict[str, Any]) -> list[str]:
    return [s for s, _ in route(step, body)]


def test_a_place_goes_to_the_hub_serving_its_province() -> None:
    body = {"province_code": "79", "commune_code": "26506"}
    assert subjects(Step("registry", "form_team", body, "c"), body) == ["vhub.cmd.hcm.registry.form_team"]


def test_a_command_naming_an_aggregate_goes_to_the_hub_its_id_names() -> None:
    team = owned_id("ct", "team", "t")
    body = {"dispatch_id": f"{team}:0123456789ab", "at": "2025-07-10T08:00:00+07:00"}
    assert subjects(Step("dispatch", "check_in", body, "c"), body) == ["vhub.cmd.ct.dispatch.check_in"]


def test_close_day_goes_to_every_hub_and_border_communes_are_split_by_hub() -> None:
    body = {"date": "2025-07-10"}
    assert subjects(Step("dispatch", "close_day", body, "c"), body) == [
        f"vhub.cmd.{h}.dispatch.close_day" for h in HUBS
    ]
    border = {"commune_codes": ["26506", "00070"]}  # one in Hồ Chí Minh City (hcm), one in Hà Nội
    split = dict(route(Step("registry", "designate_border_communes", border, "c"), border))
    assert split == {
        "vhub.cmd.hcm.registry.designate_border_communes": {"commune_codes": ["26506"]},
        "vhub.cmd.hn.registry.designate_border_communes": {"commune_codes": ["00070"]},
    }
