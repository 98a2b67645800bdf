"""Benchmark: wall time of ``dbt build`` (every model and test) on sandbox data sets.

For each size, the sandbox is synced into a warehouse once (kept under ``--workdir`` for DuckDB,
so reruns skip the slow part), then ``dbt build`` runs twice: "cold" with an empty target
directory (dbt parses the whole project) and "warm" reusing it (partial parsing, as Dagster runs
do with the prepared manifest). Both run the production command, ``dbt build
--exclude-resource-type unit_test`` (what Dagster runs); a third run adds the unit tests, as CI
does. Target: warm build at 1M orders on DuckDB in at most 15 s.

    python benchmarks/dbt_build.py                                  # 100k on DuckDB
    python benchmarks/dbt_build.py --sizes 100000 1000000 --warehouses duckdb postgres

PostgreSQL uses a fresh database ``ticketing_bench_<size>`` on the server of
``TICKETING_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres),
dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ticketing_pipeline.config import ProjectConfig  # noqa: E402
from ticketing_pipeline.sandbox.generator import SandboxSpec  # noqa: E402
from ticketing_pipeline.sandbox.server import SandboxServer  # noqa: E402
from ticketing_pipeline.sandbox_harness.config import sandbox_accounts, sandbox_project_config  # noqa: E402
from ticketing_pipeline.sandbox_harness.pipeline import sandbox_pipeline  # noqa: E402
from ticketing_pipeline.transform.dbt import (  # noqa: E402
    DBT_PROJECT_DIR,
    PRODUCTION_BUILD,
    dbt_command,
    dbt_run_env,
)
from ticketing_pipeline.warehouse import resolve_warehouse  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOADED_MARKER = ".loaded"


def sync_sandbox(size: int, url: str, data_dir: Path, cache_dir: Path) -> ProjectConfig:
    """Generate (or load from cache) a sandbox of ``size`` orders and sync it into ``url``."""
    started = time.perf_counter()
    with (
        SandboxServer(SandboxSpec(orders=size), cache_dir=cache_dir) as server,
        sandbox_pipeline(server, data_dir, url) as run,
    ):
        run.sync()
    print(f"  sync of {size:,} orders: {time.perf_counter() - started:.1f} s", flush=True)
    return run.config


def config_for(size: int, url: str, data_dir: Path) -> ProjectConfig:
    """The config of an already loaded warehouse (accounts as the sandbox generates them)."""
    spec = SandboxSpec(orders=size)
    # Account ids and names depend only on the spec's account counts, not on the orders.
    from ticketing_pipeline.sandbox.generator import generate

    small = generate(SandboxSpec(seed=spec.seed, orders=50, anchor=spec.anchor))
    accounts, _ = sandbox_accounts(small.accounts, "http://unused", "http://unused")
    return sandbox_project_config(accounts, data_dir, url)


def dbt_build(
    config: ProjectConfig, target: Path, args: list[str] = PRODUCTION_BUILD
) -> tuple[float, float | None, float, str]:
    """Run ``dbt <args>``; returns (wall s, dbt's own run s, CPU s of dbt, summary line).

    CPU time (user + system of the dbt process, DuckDB's threads included) says more than wall
    time on a shared machine; on PostgreSQL it misses the server's share.
    """
    env = dbt_run_env(config, resolve_warehouse(config))
    command = dbt_command(args, target)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{output[-4000:]}")
    run = re.search(r"Finished running .* in .*\(([\d.]+)s\)", output)
    summary = [line for line in output.splitlines() if "Done. PASS=" in line]
    line = summary[-1].split("  ")[-1] if summary else ""
    return wall, float(run.group(1)) if run else None, cpu, line


def report(label: str, wall: float, run: float | None, cpu: float, summary: str) -> None:
    inner = f", dbt run {run:.1f} s" if run is not None else ""
    load = os.getloadavg()[0]
    print(
        f"  {label}: {wall:.1f} s wall ({cpu:.1f} s CPU{inner}; load {load:.1f})  "
        f"{summary.strip()}",
        flush=True,
    )


def run_builds(config: ProjectConfig, target: Path) -> None:
    report("cold build (full parse)", *dbt_build(config, target))
    report("warm build (partial parse)", *dbt_build(config, target))
    report("warm build incl. unit tests (CI)", *dbt_build(config, target, ["build"]))


def bench_duckdb(size: int, workdir: Path, cache_dir: Path) -> None:
    data_dir = workdir / f"duckdb_{size}"
    path = data_dir / "warehouse.duckdb"
    url = f"duckdb:///{path}"
    if (data_dir / LOADED_MARKER).exists():
        print(f"  reusing the loaded warehouse {path}", flush=True)
        config = config_for(size, url, data_dir)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        config = sync_sandbox(size, url, data_dir, cache_dir)
        (data_dir / LOADED_MARKER).touch()
    target = data_dir / "dbt_target"
    shutil.rmtree(target, ignore_errors=True)
    run_builds(config, target)


def bench_postgres(size: int, workdir: Path, cache_dir: Path, keep: bool) -> None:
    admin_url = os.environ.get("TICKETING_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    name = f"ticketing_bench_{size}"
    admin = sa.create_engine(
        "postgresql+psycopg2://" + admin_url.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        connection.execute(sa.text(f'create database "{name}"'))
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    data_dir = workdir / f"postgres_{size}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    try:
        config = sync_sandbox(size, url, data_dir, cache_dir)
        target = data_dir / "dbt_target"
        run_builds(config, target)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--warehouses", nargs="+", choices=["duckdb", "postgres"], default=["duckdb"]
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "dbt")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    args = parser.parse_args()
    cache_dir = args.workdir / "sandbox_cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"dbt build benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    for size in args.sizes:
        for warehouse in args.warehouses:
            print(f"{warehouse}, {size:,} orders:", flush=True)
            if warehouse == "duckdb":
                bench_duckdb(size, args.workdir, cache_dir)
            else:
                bench_postgres(size, args.workdir, cache_dir, args.keep)


if __name__ == "__main__":
    main()
