"""The standing fault matrix: every way a sync or a webhook load can be interrupted, and proof
that the next run leaves the raw tables exactly as a run without the fault would.

    .venv/bin/python -m tests.faults.run_matrix [--orders 600]

Each case runs against the sandbox (over HTTP, in this process's thread) and real DuckDB files
under a temporary folder:

- SIGKILL of ``ticketing sync`` and of the landed-webhook loader at each dlt step (extract,
  normalize, the normalize commit, a partial load, the package completion) and after the load
  (before the sync log / before moving files to ``processed/``); a real child process
  (``tests.faults.crash_child``), killed with SIGKILL, then the next run in this process;
- API faults during the incremental sync: a 429 storm with Retry-After, 5xx, bodies cut off
  mid-page, timeouts, and a page failing for good (the account fails, the next run recovers);
- corrupt and truncated landed files, and Eventbrite answering 503 while the loader fetches.

A case passes when its final raw tables (row count + SHA-256 of every non-dlt column of every
row, per table) equal those of the fault-free reference, and no landed file is lost. The table
printed at the end is the report. Exit status 1 if any case fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.faults.crash_child import KILL_POINTS
from tests.faults.harness import (
    differences,
    humanitix_orders,
    land_relay,
    mart_checksums,
    raw_checksums,
    run_child,
)
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.config import sandbox_config
from ticketing_pipeline.transform.dbt import run_dbt
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import (
    LandingArea,
    delivery_file_name,
    encode_delivery,
)
from ticketing_pipeline.webhooks.loader import load_landed

CRASH_POINTS = [k for k in KILL_POINTS if k != "none"]


@dataclass
class Outcome:
    group: str
    case: str
    faulted: str
    recovery: str
    files: str
    equal: bool
    detail: str = ""
    seconds: float = 0.0
    marts: bool | None = None  # None: not built


def _sync_summary(results) -> str:
    failed = [r.account.key for r in results if not r.ok]
    return f"{len(results) - len(failed)}/{len(results)} accounts ok" + (
        f" (failed: {', '.join(failed)})" if failed else ""
    )


def _compare(config: ProjectConfig, want: dict) -> tuple[bool, str]:
    diff = differences(raw_checksums(config), want)
    return not diff, ", ".join(f"{t}: {g} != {w}" for t, (g, w) in diff.items())


def _build_marts(config: ProjectConfig) -> dict:
    """Build the dbt models on this warehouse (about 20 s each) and checksum the marts."""
    run_dbt(config, ["run"], config.data_dir / "dbt_target")
    return mart_checksums(config)


# --- the sync -------------------------------------------------------------------------------


def sync_matrix(root: Path, orders: int, marts: bool = False) -> list[Outcome]:
    spec = SandboxSpec(
        seed=5,
        orders=orders,
        humanitix_accounts=2,
        eventbrite_orgs=1,
        eventbrite_second_token_orgs=0,
    )
    api_faults: dict[str, Callable[[SandboxServer], None]] = {
        "429 burst (Retry-After 1 s)": lambda s: s.faults.add(
            kind="status", status=429, retry_after=1, count=2
        ),
        # More 429s in a row than dlt's attempts: the sync fails loudly, the next one recovers.
        "429 storm (Retry-After)": lambda s: s.faults.add(
            kind="status", status=429, retry_after=0.2, count=25
        ),
        "503 on order pages": lambda s: [
            s.faults.add(status=503, platform="humanitix", path="/events/*/orders", count=3),
            s.faults.add(
                status=503, platform="eventbrite", path="/organizations/*/orders/", count=3
            ),
        ],
        "500 once per platform": lambda s: s.faults.add(status=500, count=2),
        "body cut off mid-page": lambda s: [
            s.faults.add(kind="malformed", platform="humanitix", path="/events/*/orders", count=2),
            s.faults.add(
                kind="malformed", platform="eventbrite", path="/organizations/*/orders/", count=2
            ),
        ],
        "timeouts": lambda s: s.faults.add(
            kind="slow", delay=1.5, platform="eventbrite", path="/organizations/*/orders/", count=2
        ),
        "orders page failing for good": lambda s: s.faults.add(
            status=500, platform="humanitix", path="/events/*/orders", count=None
        ),
    }
    outcomes = []
    with SandboxServer(spec) as server:
        names = ["reference", *CRASH_POINTS, *api_faults]
        configs = {}
        for name in names:
            config, environment = sandbox_config(
                server,
                root / "sync" / name.replace(" ", "_"),
                skip_events_ended_days=None,
                request_timeout_seconds=1.0,
                request_max_attempts=4,
            )
            configs[name] = config
        os.environ.update(environment)
        # The first sync of every warehouse, then the platform changes (orders, refunds, ...).
        for name in names:
            sync_accounts(configs[name])
        server.dataset.mutate(fraction=0.1, seed=2)
        sync_accounts(configs["reference"])
        want = raw_checksums(configs["reference"])
        want_marts = _build_marts(configs["reference"]) if marts else None

        for kill_point in CRASH_POINTS:
            started = time.perf_counter()
            config = configs[kill_point]
            crashed = run_child(config, environment, "sync", kill_point)
            results = sync_accounts(config)
            equal, detail = _compare(config, want)
            outcomes.append(
                Outcome(
                    "sync",
                    f"SIGKILL at {kill_point}",
                    "killed (SIGKILL)" if crashed.killed else f"exit {crashed.returncode}",
                    _sync_summary(results),
                    "-",
                    equal and crashed.killed and all(r.ok for r in results),
                    detail,
                    time.perf_counter() - started,
                )
            )

        for name, inject in api_faults.items():
            started = time.perf_counter()
            config = configs[name]
            server.faults.clear()
            inject(server)
            faulted = sync_accounts(config)
            server.faults.clear()
            recovered = faulted if all(r.ok for r in faulted) else sync_accounts(config)
            equal, detail = _compare(config, want)
            outcomes.append(
                Outcome(
                    "sync",
                    name,
                    _sync_summary(faulted),
                    "not needed" if recovered is faulted else _sync_summary(recovered),
                    "-",
                    equal and all(r.ok for r in recovered),
                    detail,
                    time.perf_counter() - started,
                )
            )
        if want_marts is not None:
            for outcome in outcomes:
                built = _build_marts(configs[outcome.case.removeprefix("SIGKILL at ")])
                outcome.marts = not differences(built, want_marts)
                outcome.detail += "".join(
                    f" mart {t}: {g} != {w}" for t, (g, w) in differences(built, want_marts).items()
                )
    return outcomes


# --- the landed-webhook loader ----------------------------------------------------------------


def _files(area: LandingArea) -> str:
    counts = area.counts()
    return f"in {counts['incoming']} / done {counts['processed']} / failed {counts['failed']}"


def loader_matrix(root: Path) -> list[Outcome]:
    spec = SandboxSpec(
        seed=9, orders=800, humanitix_accounts=1, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    outcomes = []
    with SandboxServer(spec) as server:
        hx = next(a.account_id for a in server.dataset.accounts if a.platform == "humanitix")
        eb = next(a for a in server.dataset.accounts if a.platform == "eventbrite")
        orders = humanitix_orders(server, hx)
        warm, batch, later = orders[:10], orders[10:310], orders[310:360]

        def land(area: LandingArea, prefix: str, records: list[bytes]) -> list[Path]:
            return [
                land_relay(area, "humanitix", hx, f"{prefix}{n}", r) for n, r in enumerate(records)
            ]

        def setup(name: str) -> tuple[ProjectConfig, dict[str, str], LandingArea]:
            config, environment = sandbox_config(server, root / "load" / name.replace(" ", "_"))
            os.environ.update(environment)
            return config, environment, LandingArea.for_data_dir(config.data_dir)

        reference, _, reference_area = setup("reference")
        load_landed(
            reference,
            resolve_warehouse(reference),
            reference_area,
            land(reference_area, "r", warm + batch + later),
        )
        want = raw_checksums(reference)

        for kill_point in CRASH_POINTS:
            started = time.perf_counter()
            config, environment, area = setup(kill_point)
            warehouse = resolve_warehouse(config)
            load_landed(config, warehouse, area, land(area, "w", warm))
            crashed = run_child(config, environment, "load", kill_point, land(area, "a", batch))
            left = area.counts()["incoming"]
            land(area, "b", later)
            result = load_landed(config, warehouse, area, area.list_incoming())
            equal, detail = _compare(config, want)
            counts = area.counts()
            outcomes.append(
                Outcome(
                    "loader",
                    f"SIGKILL at {kill_point}",
                    ("killed (SIGKILL)" if crashed.killed else f"exit {crashed.returncode}")
                    + f", {left} files left in incoming",
                    f"{len(result.loaded)} loaded, {len(result.retry)} to retry",
                    _files(area),
                    equal
                    and crashed.killed
                    and left == len(batch)
                    and counts["processed"] == len(orders[:360])
                    and counts["incoming"] == 0,
                    detail,
                    time.perf_counter() - started,
                )
            )

        # The first load ever, killed mid-load: dlt has no dataset to restore from yet.
        started = time.perf_counter()
        config, environment, area = setup("first load killed")
        crashed = run_child(config, environment, "load", "load", land(area, "a", warm + batch))
        land(area, "b", later)
        result = load_landed(config, resolve_warehouse(config), area, area.list_incoming())
        equal, detail = _compare(config, want)
        outcomes.append(
            Outcome(
                "loader",
                "first load ever, SIGKILL at load",
                "killed (SIGKILL)" if crashed.killed else f"exit {crashed.returncode}",
                f"{len(result.loaded)} loaded",
                _files(area),
                equal and crashed.killed and area.counts()["incoming"] == 0,
                detail,
                time.perf_counter() - started,
            )
        )

        # Corrupt and truncated files beside good ones: those two fail alone, with a reason.
        started = time.perf_counter()
        config, environment, area = setup("corrupt files")
        good = land(area, "g", warm + batch + later)
        truncated = land_relay(area, "humanitix", hx, "truncated", orders[-1])
        truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
        garbage = area.incoming / delivery_file_name("humanitix", hx, "garbage")
        garbage.write_bytes(b"\x00\xff not a delivery")
        result = load_landed(config, resolve_warehouse(config), area, [*good, truncated, garbage])
        equal, detail = _compare(config, want)
        reasons = all(area.failure_reason(p) for p in (truncated, garbage))
        outcomes.append(
            Outcome(
                "loader",
                "truncated + garbage landed files",
                f"{len(result.failed)} to failed/ with reason: {reasons}",
                f"{len(result.loaded)} loaded",
                _files(area),
                equal and set(result.failed) == {truncated, garbage} and reasons,
                detail,
                time.perf_counter() - started,
            )
        )

        # Eventbrite answers 503 while the loader fetches referenced orders: retried next run.
        started = time.perf_counter()
        base = server.eventbrite_base_url
        order_ids = list(server.dataset.eb_orders)[:30]

        def references(area: LandingArea) -> list[Path]:
            paths = []
            for n, order_id in enumerate(order_ids):
                url = f"{base}/orders/{order_id}/"
                path = area.incoming / delivery_file_name("eventbrite", eb.account_id, f"ref{n}")
                area.ensure()
                path.write_bytes(
                    encode_delivery(
                        delivery_id=f"ref{n}",
                        platform="eventbrite",
                        account_id=eb.account_id,
                        kind="eventbrite_reference",
                        action="order.updated",
                        received_ns=time.time_ns(),
                        headers={},
                        body=b'{"config":{"action":"order.updated"},"api_url":"'
                        + url.encode()
                        + b'"}',
                        api_url=url,
                    )
                )
                paths.append(path)
            return paths

        eb_reference, _, eb_reference_area = setup("eventbrite reference")
        load_landed(
            eb_reference,
            resolve_warehouse(eb_reference),
            eb_reference_area,
            references(eb_reference_area),
        )
        eb_want = raw_checksums(eb_reference)
        config, environment, area = setup("eventbrite 503")
        config = config.model_copy(
            update={"sync": config.sync.model_copy(update={"request_max_attempts": 2})}
        )
        server.faults.add(status=503, platform="eventbrite", path="/orders/*", count=None)
        first = load_landed(config, resolve_warehouse(config), area, references(area))
        server.faults.clear()
        second = load_landed(config, resolve_warehouse(config), area, area.list_incoming())
        equal, detail = _compare(config, eb_want)
        outcomes.append(
            Outcome(
                "loader",
                "Eventbrite 503 while fetching references",
                f"{len(first.retry)} left to retry, {len(first.loaded)} loaded",
                f"{len(second.loaded)} loaded",
                _files(area),
                equal and len(first.retry) == len(order_ids) and area.counts()["incoming"] == 0,
                detail,
                time.perf_counter() - started,
            )
        )
    return outcomes


def print_table(outcomes: list[Outcome]) -> None:
    headers = ("group", "case", "faulted run", "next run", "landed files", "raw = fault-free")
    headers += ("marts = fault-free", "s")
    rows = [
        (
            o.group,
            o.case,
            o.faulted,
            o.recovery,
            o.files,
            "yes" if o.equal else "NO",
            "-" if o.marts is None else "yes" if o.marts else "NO",
            f"{o.seconds:.0f}",
        )
        for o in outcomes
    ]
    widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    print(line.format(*headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line.format(*row))
    for o in outcomes:
        if (not o.equal or o.marts is False) and o.detail:
            print(f"  {o.group} / {o.case}: {o.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=600, help="sandbox orders for the sync cases")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--only", choices=["sync", "loader"], help="run one group")
    parser.add_argument(
        "--marts",
        action="store_true",
        help="also build the dbt marts after each sync case and compare them (~20 s a case)",
    )
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ticketing-faults-"))
    started = time.perf_counter()
    try:
        outcomes = []
        if args.only in (None, "loader"):
            outcomes += loader_matrix(root)
        if args.only in (None, "sync"):
            outcomes += sync_matrix(root, args.orders, args.marts)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_table(outcomes)
    failed = [o for o in outcomes if not o.equal or o.marts is False]
    print(
        f"\n{len(outcomes) - len(failed)}/{len(outcomes)} cases end with the fault-free raw tables"
        f" ({time.perf_counter() - started:.0f} s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
