"""Fixtures for the sandbox tests: small generated data sets served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec

# Small enough to be quick, big enough for several pages of every list (pageSize 100 / 50).
SPEC = SandboxSpec(orders=3_000)


@pytest.fixture(scope="session")
def server() -> Iterator[SandboxServer]:
    """A read-only server shared by the tests that never change data or faults."""
    with SandboxServer(SPEC) as running:
        yield running


@pytest.fixture
def fresh_server() -> Iterator[SandboxServer]:
    """A private server for tests that mutate data or inject faults."""
    with SandboxServer(SandboxSpec(orders=1_500, seed=11)) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http
