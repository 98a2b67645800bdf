"""Test-only child process: runs a sync or the landed loader and SIGKILLs itself at one point.

    python -m tests.faults.crash_child <config.json> sync  <kill point>
    python -m tests.faults.crash_child <config.json> load  <kill point> <landed file> ...

dlt has no hooks, so the kill points are monkeypatches of dlt's step boundaries, installed only
in this child (the product code carries no test hook). Each one ends the process with a real
``SIGKILL`` at that moment, leaving dlt's working folders and the warehouse exactly as a crash
would (no ``finally``, no atexit, no signal handler runs):

- ``none``: run normally (the crash-free run).
- ``extract``: every page is extracted and written, the package is not committed yet.
- ``normalize``: the normalized files are written, the package is not committed yet.
- ``normalize_commit``: the normalized package was committed (renamed into the load folder), the
  extracted copy not yet deleted: the state that used to jam every later run.
- ``load``: the first load job of the package has finished (a partial load: some tables merged,
  the package not completed).
- ``load_complete``: every job finished, the package not yet marked loaded in ``_dlt_loads``.
- ``after_load``: the package is loaded; the loader is about to move its files to processed/
  (sync: about to write the sync log).

The config is a ``ProjectConfig`` as JSON; account secrets come from the inherited environment.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

KILL_POINTS = (
    "none",
    "extract",
    "normalize",
    "normalize_commit",
    "load",
    "load_complete",
    "after_load",
)


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_before(owner: Any, name: str) -> None:
    original = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        _die()
        return original(*args, **kwargs)

    setattr(owner, name, patched)


def _kill_after(owner: Any, name: str, when: Callable[[], bool] = lambda: True) -> None:
    original = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when():
            _die()
        return result

    setattr(owner, name, patched)


def install(kill_point: str, mode: str) -> None:
    from dlt.common.destination.client import RunnableLoadJob
    from dlt.common.storages.load_storage import LoadStorage
    from dlt.extract.extract import Extract
    from dlt.load.load import Load

    if kill_point == "extract":
        _kill_before(Extract, "commit_packages")
    elif kill_point == "normalize":
        _kill_before(LoadStorage, "commit_new_load_package")
    elif kill_point == "normalize_commit":
        _kill_after(LoadStorage, "commit_new_load_package")
    elif kill_point == "load":
        finished = threading.Lock()
        # After the first job of the package ran in the destination (jobs run in threads).
        _kill_after(RunnableLoadJob, "run_managed", lambda: finished.acquire(blocking=False))
    elif kill_point == "load_complete":
        _kill_before(Load, "complete_package")
    elif kill_point == "after_load":
        if mode == "load":
            from ticketing_pipeline.webhooks.landing import LandingArea

            _kill_before(LandingArea, "mark_processed")
        else:
            import ticketing_pipeline.ingest.sync as ingest

            _kill_before(ingest, "record_sync")
    elif kill_point != "none":
        raise SystemExit(f"unknown kill point {kill_point!r}; one of {KILL_POINTS}")


def main(argv: list[str]) -> int:
    config_file, mode, kill_point, *files = argv
    from ticketing_pipeline.config import ProjectConfig

    config = ProjectConfig.model_validate_json(Path(config_file).read_text())
    install(kill_point, mode)
    if mode == "sync":
        from ticketing_pipeline.ingest.sync import sync_accounts

        results = sync_accounts(config)
        for result in results:
            print(f"{result.account.key} ok={result.ok} error={result.error}")
        return 0 if all(r.ok for r in results) else 1
    if mode == "load":
        from ticketing_pipeline.warehouse import resolve_warehouse
        from ticketing_pipeline.webhooks.landing import LandingArea
        from ticketing_pipeline.webhooks.loader import load_landed

        area = LandingArea.for_data_dir(config.data_dir)
        result = load_landed(config, resolve_warehouse(config), area, [Path(f) for f in files])
        print(f"loaded={len(result.loaded)} failed={len(result.failed)} retry={len(result.retry)}")
        return 0 if not result.retry else 1
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
