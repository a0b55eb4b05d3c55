"""`vhub demo` replays a seeded campaign: it must start on an empty store every time."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest
import typer

from vhub.cli import stack as cli


def test_the_default_demo_directory_is_emptied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda name: str(tmp_path / name))
    left = tmp_path / "vhub" / "demo" / "nats" / "jetstream"
    left.mkdir(parents=True)
    (left / "meta.inf").write_text("a previous run")
    path = cli._fresh_demo_dir(None)
    assert path == tmp_path / "vhub" / "demo"
    assert not path.exists()
    assert (tmp_path / "vhub").exists()  # only the demo's own directory goes


def test_a_named_directory_must_be_empty(tmp_path: Path) -> None:
    assert cli._fresh_demo_dir(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "reporting.db").write_bytes(b"")
    with pytest.raises(typer.Exit) as stopped:
        cli._fresh_demo_dir(tmp_path / "used")
    assert stopped.value.exit_code == 2
    assert (tmp_path / "used" / "reporting.db").exists()  # nothing of the user's is deleted
