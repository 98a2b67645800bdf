"""Fixtures for the webhook receiver tests (helpers live in webhooks_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from webhooks_helpers import EB_TOKEN, EB_TOKEN_NEXT, HX_SECRET, HX_SECRET_OLD, make_config

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two secrets each, as during a rotation.
    monkeypatch.setenv("EB_WEBHOOK_SECRET", f"{EB_TOKEN}, {EB_TOKEN_NEXT}")
    monkeypatch.setenv("HX_WEBHOOK_SECRET", f"{HX_SECRET}\n{HX_SECRET_OLD}")


@pytest.fixture
def config(tmp_path: Path, secrets_env: None) -> ProjectConfig:
    return make_config(tmp_path / "data")


@pytest.fixture
def landing(config: ProjectConfig) -> LandingArea:
    return LandingArea.for_data_dir(config.data_dir)


@pytest.fixture
def client(config: ProjectConfig, landing: LandingArea) -> Iterator[TestClient]:
    with TestClient(create_app(config, landing, max_body_bytes=64 * 1024)) as test_client:
        yield test_client
