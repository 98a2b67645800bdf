"""Run the Gigs feed with uvicorn: ``ticketing gigs serve``."""

from __future__ import annotations

from functools import partial

import uvicorn

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.gigs.app import create_app
from ticketing_pipeline.gigs.contract import MART_VERSION
from ticketing_pipeline.gigs.snapshot import SnapshotStore, read_snapshot
from ticketing_pipeline.warehouse import resolve_warehouse


def build_store(config: ProjectConfig, refresh_seconds: float = 30.0) -> SnapshotStore:
    warehouse = resolve_warehouse(config)
    return SnapshotStore(partial(read_snapshot, warehouse, MART_VERSION), refresh_seconds)


def serve(
    config: ProjectConfig,
    host: str = "127.0.0.1",
    port: int = 8790,
    refresh_seconds: float = 30.0,
) -> None:
    app = create_app(build_store(config, refresh_seconds))
    # Bounded headers and idle connections: a public endpoint must not let clients hold memory.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
    )
