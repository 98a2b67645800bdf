"""run.py: the ``streamlit run`` command line and the environment handed to the app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ticketing_pipeline.config import CONFIG_ENV
from ticketing_pipeline.dashboard.auth import USERS_ENV
from ticketing_pipeline.dashboard.run import APP_PATH, dashboard_command, dashboard_env


def test_command_runs_the_app_headless_on_the_address() -> None:
    command = dashboard_command("0.0.0.0", 9123)
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4] == str(APP_PATH) and APP_PATH.name == "app.py" and APP_PATH.exists()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "0.0.0.0"
    assert options["--server.port"] == "9123"
    assert options["--server.headless"] == "true"
    assert options["--server.fileWatcherType"] == "none"  # production: no reload on edits
    assert options["--browser.gatherUsageStats"] == "false"


def test_env_carries_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(USERS_ENV, raising=False)
    env = dashboard_env("ticketing.toml", "users.toml")
    assert env[CONFIG_ENV] == str(tmp_path / "ticketing.toml")
    assert env[USERS_ENV] == str(tmp_path / "users.toml")
    untouched = dashboard_env(None)
    assert USERS_ENV not in untouched
