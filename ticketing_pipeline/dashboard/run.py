"""Start the dashboard: ``streamlit run`` on app.py with the project's config.

The Streamlit server runs in a child process (Streamlit owns its event loop and signal
handling); the config path and the users file reach the app through the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ticketing_pipeline.config import CONFIG_ENV
from ticketing_pipeline.dashboard.auth import USERS_ENV

APP_PATH = Path(__file__).resolve().with_name("app.py")


def dashboard_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The ``streamlit run`` command line (production settings: no file watcher, no usage
    statistics, no browser opened)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def dashboard_env(
    config_path: str | os.PathLike[str] | None, users_path: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    if config_path is not None:
        env[CONFIG_ENV] = str(Path(config_path).resolve())
    if users_path is not None:
        env[USERS_ENV] = str(Path(users_path).resolve())
    return env


def start_dashboard(
    config_path: str | os.PathLike[str] | None,
    host: str = "127.0.0.1",
    port: int = 8501,
    users_path: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start the server in the background and return the process (tests, scripts)."""
    return subprocess.Popen(
        dashboard_command(host, port), env=dashboard_env(config_path, users_path)
    )


def run_dashboard(
    config_path: str | os.PathLike[str] | None,
    host: str = "127.0.0.1",
    port: int = 8501,
    users_path: str | os.PathLike[str] | None = None,
) -> int:
    """Serve the dashboard until interrupted; returns Streamlit's exit code.

    ``config_path``: the project's ticketing.toml (None: ``TICKETING_CONFIG`` or the default).
    ``users_path``: the users file (None: ``TICKETING_DASHBOARD_USERS`` or
    ``dashboard_users.toml``).
    """
    process = start_dashboard(config_path, host, port, users_path)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()
