"""`ticketing`: run the demo, syncs, the sandbox, the webhook receiver and the dashboard."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ticketing_pipeline.config import (
    AccountConfig,
    ConfigError,
    MissingSecretError,
    ProjectConfig,
    load_config,
)

if TYPE_CHECKING:
    from ticketing_pipeline.ingest.reports import SyncQuality
    from ticketing_pipeline.warehouse import Warehouse

app = typer.Typer(no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False)
sandbox_app = typer.Typer(no_args_is_help=True, help="The local fake of both platforms' APIs.")
app.add_typer(sandbox_app, name="sandbox")
webhooks_app = typer.Typer(no_args_is_help=True, help="The webhook receiver.")
app.add_typer(webhooks_app, name="webhooks")
gigs_app = typer.Typer(no_args_is_help=True, help="The public Gigs feed over session_complete.")
app.add_typer(gigs_app, name="gigs")
console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $TICKETING_CONFIG or ./ticketing.toml)"
    ),
]


def _load(path: Path | None) -> ProjectConfig:
    try:
        return load_config(path)
    except ConfigError as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from error


def _warehouse_or_exit(config: ProjectConfig) -> Warehouse:
    """The configured warehouse; a wrong warehouse URL ends the command with exit code 2."""
    from ticketing_pipeline.warehouse import resolve_warehouse

    try:
        return resolve_warehouse(config)
    except ConfigError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


@contextmanager
def _step(message: str):
    """A spinner with elapsed time while a long step runs."""
    started = time.perf_counter()
    with console.status(f"{message} ..."):
        yield
    console.print(f"[green]✓[/green] {message} ({time.perf_counter() - started:.1f} s)")


def _sync_and_report(config: ProjectConfig) -> bool:
    from ticketing_pipeline.ingest.reports import summarize_raw
    from ticketing_pipeline.ingest.sync import sync_account
    from ticketing_pipeline.warehouse import resolve_warehouse

    warehouse = resolve_warehouse(config)
    console.print(f"Warehouse: [bold]{warehouse.display}[/bold]")
    all_ok = True
    qualities: dict[tuple[str, str], SyncQuality | None] = {}
    for account in config.enabled_accounts():
        label = f"{account.platform.value} {account.account_id} ({account.display_name})"
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        with console.status(f"Syncing {label} ..."):
            result = sync_account(config, account, warehouse)
        seconds = time.perf_counter() - started
        if result.ok:
            rows = sum(result.rows.values())
            console.print(f"[green]✓[/green] {label}: {rows:,} rows in {seconds:.1f} s")
        else:
            all_ok = False
            console.print(f"[red]✗ {label}: {result.error}[/red]")
        if result.rows:
            quality = _sync_quality(warehouse, account, result.rows, started_at)
            qualities[(account.platform.value, account.account_id)] = quality
            _print_quality(quality)
    _print_summary(summarize_raw(warehouse), qualities)
    return all_ok


def _sync_quality(
    warehouse: Warehouse, account: AccountConfig, rows: dict[str, int], started_at: datetime
) -> SyncQuality | None:
    """What this sync could not load as received, read back from the warehouse; None (and a
    note) if that cannot be read now: the sync itself is done."""
    from ticketing_pipeline.ingest.reports import sync_quality

    loaded = [table for table, count in rows.items() if count]
    try:
        return sync_quality(
            warehouse, account.platform.value, account.account_id, loaded, started_at
        )
    except Exception as error:  # noqa: BLE001 - a report, never a reason to fail the sync
        console.print(f"  [yellow]invalid fields / rejected records not read: {error}[/yellow]")
        return None


def _print_quality(quality: SyncQuality | None) -> None:
    if quality is None or not (quality.invalid_total or quality.rejected_total):
        return
    for (table, field), count in sorted(quality.invalid_fields.items()):
        console.print(f"  [yellow]invalid {table}.{field}: {count:,} rows[/yellow]")
    for (table, reason), count in sorted(quality.rejected.items()):
        console.print(f"  [yellow]rejected {table}: {count:,} records ({reason})[/yellow]")


def _print_summary(
    summaries, qualities: dict[tuple[str, str], SyncQuality | None] | None = None
) -> None:
    table = Table(title="Loaded into the warehouse (raw tables)")
    columns = ("platform", "account", "events", "sessions", "orders", "tickets", "gross")
    quality_columns = ("invalid fields", "rejected") if qualities is not None else ()
    for column in (*columns, *quality_columns):
        table.add_column(
            column, justify="right" if column not in ("platform", "account") else "left"
        )
    for s in summaries:
        gross = ", ".join(
            f"{currency} {amount:,.2f}" for currency, amount in sorted(s.gross.items())
        )
        # This run's counts: an account it did not sync, or a warehouse that records neither
        # yet, shows "-" rather than a reassuring 0.
        quality = (qualities or {}).get((s.platform, s.account_id))
        shown = (
            (f"{quality.invalid_total:,}", f"{quality.rejected_total:,}")
            if quality is not None and quality.recorded
            else ("-", "-")
        )
        table.add_row(
            s.platform,
            s.account_id,
            *(
                f"{s.counts.get(metric, 0):,}"
                for metric in ("events", "sessions", "orders", "tickets")
            ),
            gross,
            *(shown if qualities is not None else ()),
        )
    console.print(table)


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="Sandbox orders to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Sandbox data seed")] = 7,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files")] = Path(
        "data/demo"
    ),
    warehouse: Annotated[
        str | None, typer.Option(help="Warehouse URL (default: a DuckDB file in data-dir)")
    ] = None,
) -> None:
    """Start the sandbox, ingest both platforms into the warehouse, print what was loaded."""
    from ticketing_pipeline.sandbox.generator import SandboxSpec, generate
    from ticketing_pipeline.sandbox_harness.config import render_toml
    from ticketing_pipeline.sandbox_harness.pipeline import sandbox_pipeline

    data_dir = data_dir.resolve()
    with _step(f"Generating the sandbox data set ({orders:,} orders, seed {seed})"):
        dataset = generate(SandboxSpec(seed=seed, orders=orders))
    with sandbox_pipeline(dataset, data_dir, warehouse) as run:
        console.print(f"Sandbox serving both APIs at [bold]{run.server.url}[/bold]")
        config = run.config
        (data_dir / "ticketing.toml").write_text(render_toml(config))
        ok = _sync_and_report(config)
    if ok:
        _build_marts_and_report(config)
    console.print(f"Config of this demo: {data_dir / 'ticketing.toml'}")
    if not ok:
        raise typer.Exit(1)


def _build_marts_and_report(config: ProjectConfig) -> None:
    from ticketing_pipeline.ingest.reports import summarize_sales
    from ticketing_pipeline.transform.dbt import PRODUCTION_BUILD, DbtCommandError, run_dbt
    from ticketing_pipeline.warehouse import resolve_warehouse

    try:
        with _step("Building the marts with dbt (models and data tests)"):
            run_dbt(config, PRODUCTION_BUILD, config.data_dir / "dbt_target")
    except DbtCommandError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    table = Table(title="marts.ticket_sales (per account and currency; never summed across them)")
    for column in ("platform", "account", "currency"):
        table.add_column(column, no_wrap=True)
    for column in ("orders", "tickets sold", "gross", "refunded", "net"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in summarize_sales(resolve_warehouse(config)):
        table.add_row(
            s.platform,
            s.account_id,
            s.currency,
            f"{s.orders:,}",
            f"{s.tickets_sold:,}",
            f"{s.gross:,.2f}",
            f"{s.refunded:,.2f}",
            f"{s.net:,.2f}",
        )
    console.print(table)


@app.command()
def sync(
    config_path: ConfigOption = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Only these accounts (platform-account_id)"),
    ] = None,
) -> None:
    """Sync configured accounts (all enabled ones by default) into the warehouse."""
    config = _load(config_path)
    if account:
        try:
            chosen = [config.account_by_key(key) for key in account]
        except ConfigError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
        config = config.model_copy(update={"accounts": chosen})
    if not config.enabled_accounts():
        console.print("[yellow]No enabled accounts are configured.[/yellow]")
        raise typer.Exit(2)
    if not _sync_and_report(config):
        raise typer.Exit(1)


@app.command("check-config")
def check_config(config_path: ConfigOption = None) -> None:
    """Validate the config and say, per account, whether its secret is set (never its value)."""
    config = _load(config_path)
    console.print(f"Warehouse: {_warehouse_or_exit(config).display}")
    missing = 0
    for account in config.accounts:
        try:
            account.api_secret()
            state = f"[green]{account.secret_env} is set[/green]"
        except MissingSecretError:
            state = f"[red]{account.secret_env} is NOT set[/red]"
            missing += account.enabled
        enabled = "" if account.enabled else " (disabled)"
        console.print(f"{account.key}{enabled}: {account.api_base_url} — {state}")
    if missing:
        raise typer.Exit(1)


def _anchor(text: str) -> datetime:
    """Midnight UTC of 'today' or of a YYYY-MM-DD date (so one day's data sets are equal)."""
    try:
        day = datetime.now(UTC).date() if text == "today" else date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter("expected 'today' or YYYY-MM-DD", param_hint="--anchor") from error
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


@sandbox_app.command("serve")
def sandbox_serve(
    orders: Annotated[int, typer.Option(help="Orders to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Data seed")] = 7,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
    write_config: Annotated[
        Path | None,
        typer.Option(help="Write a ticketing.toml for the sandbox here, and a .env beside it"),
    ] = None,
    latency_ms: Annotated[
        float, typer.Option(help="Milliseconds added to every platform API call (non-blocking)")
    ] = 0.0,
    eventbrite_calls_per_hour: Annotated[
        int | None, typer.Option(help="Eventbrite budget per token; 429 + Retry-After beyond it")
    ] = None,
    humanitix_second_region: Annotated[
        bool, typer.Option(help="Humanitix accounts also hold events in a second region")
    ] = False,
    live_every: Annotated[
        float | None,
        typer.Option(
            help="Live mode: change orders every this many seconds and send the changes as "
            "webhooks (Eventbrite: to registered webhooks; Humanitix: signed relay deliveries)"
        ),
    ] = None,
    live_changes: Annotated[int, typer.Option(help="Live mode: order changes per tick")] = 5,
    anchor: Annotated[
        str | None,
        typer.Option(
            help="The data set's 'now': 'today' (upcoming events for the Gigs feed and the "
            "dashboard) or a date YYYY-MM-DD; default a fixed date, for reproducible data"
        ),
    ] = None,
    relay_config: Annotated[
        Path | None,
        typer.Option(
            help="Live mode: the project config naming the receiver ([webhooks] public_url) "
            "and the Humanitix accounts' relay secret variables"
        ),
    ] = None,
) -> None:
    """Serve both fake APIs until interrupted."""
    from ticketing_pipeline.sandbox.generator import SandboxSpec, generate
    from ticketing_pipeline.sandbox.server import serve
    from ticketing_pipeline.sandbox_harness.config import (
        render_toml,
        sandbox_accounts,
        sandbox_base_urls,
        sandbox_project_config,
    )

    spec = SandboxSpec(seed=seed, orders=orders, humanitix_second_region=humanitix_second_region)
    if anchor:
        spec = replace(spec, anchor=_anchor(anchor))
    with _step(f"Generating the sandbox data set ({orders:,} orders, seed {seed})"):
        dataset = generate(spec)
    humanitix_url, eventbrite_url = sandbox_base_urls(f"http://{host}:{port}")
    accounts, environment = sandbox_accounts(dataset.accounts, humanitix_url, eventbrite_url)
    if write_config:
        config = sandbox_project_config(accounts, Path("data"))
        write_config.write_text(render_toml(config))
        env_file = write_config.with_name(".env.sandbox")
        env_file.write_text("".join(f"export {k}={v}\n" for k, v in environment.items()))
        console.print(f"Wrote {write_config}; sandbox credentials: `source {env_file}`")
    console.print(f"Serving Humanitix at {humanitix_url} and Eventbrite at {eventbrite_url}")
    if live_every is not None:
        from ticketing_pipeline.config import ProjectConfig
        from ticketing_pipeline.sandbox.server import PlatformSettings
        from ticketing_pipeline.stack.live import serve_live

        serve_live(
            dataset,
            _load(relay_config) if relay_config else ProjectConfig(),
            host=host,
            port=port,
            every=live_every,
            changes=live_changes,
            settings=PlatformSettings.of(latency_ms, eventbrite_calls_per_hour),
        )
        return
    serve(
        dataset,
        host=host,
        port=port,
        latency_ms=latency_ms,
        eventbrite_calls_per_hour=eventbrite_calls_per_hour,
    )


@webhooks_app.command("serve")
def webhooks_serve(
    config_path: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8787,
    workers: Annotated[int, typer.Option(help="Receiver processes")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log requests (every non-public path segment masked)")
    ] = False,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a request body may take to arrive (408 after)")
    ] = 10.0,
) -> None:
    """Receive platform webhooks and land them durably for the Dagster sensor.

    Set TICKETING_WEBHOOKS_METRICS_TOKEN to require a bearer token for /metrics."""
    from ticketing_pipeline.webhooks.receiver.server import serve

    config = _load(config_path)
    try:
        serve(
            config,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            body_timeout=body_timeout,
        )
    except ConfigError as error:
        console.print(f"[red]Refusing to start:[/red] {error}")
        raise typer.Exit(2) from error


@gigs_app.command("serve")
def gigs_serve(
    config_path: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8790,
    refresh_seconds: Annotated[
        float, typer.Option(help="How often the feed re-reads the mart")
    ] = 30.0,
) -> None:
    """Serve upcoming published sessions: a public JSON API, .ics calendars, an example page."""
    from ticketing_pipeline.gigs.server import serve

    serve(_load(config_path), host=host, port=port, refresh_seconds=refresh_seconds)


@app.command()
def dashboard(
    config_path: ConfigOption = None,
    users: Annotated[
        Path | None,
        typer.Option(
            help="Users file (default: $TICKETING_DASHBOARD_USERS or dashboard_users.toml)"
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8501,
) -> None:
    """Serve the sales dashboard for promoters and admins."""
    from ticketing_pipeline.dashboard.run import run_dashboard

    _load(config_path)  # fail here, clearly, rather than inside the app
    raise typer.Exit(run_dashboard(config_path, host=host, port=port, users_path=users))


@app.command("hash-password")
def hash_password() -> None:
    """Print an argon2 hash of a password typed at the prompt, for the dashboard users file."""
    from ticketing_pipeline.dashboard.auth import hash_password as make_hash

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    console.print(make_hash(password))


@app.command()
def up(
    stack_dir: Annotated[
        Path, typer.Option(help="Where the stack keeps its config, secrets and data")
    ] = Path("data/stack"),
    base_port: Annotated[
        int | None,
        typer.Option(
            help="Ports from here: sandbox, receiver, Dagster, dashboard, Gigs "
            "(default 8765, 8787, 3000, 8501, 8790)"
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address every part listens on")] = "127.0.0.1",
    orders: Annotated[int, typer.Option(help="Sandbox orders to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Sandbox data seed")] = 7,
    live_every: Annotated[
        float, typer.Option(help="The sandbox changes orders and sends webhooks this often (s)")
    ] = 30.0,
    first_load: Annotated[
        bool, typer.Option(help="Sync every account and build the marts once at start")
    ] = True,
) -> None:
    """Start the whole local stack: sandbox (live), webhook receiver, Dagster (webserver and
    daemon), dashboard and Gigs feed, with generated local secrets. Ctrl-C stops it all."""
    from ticketing_pipeline.stack.up import StackPorts, describe, prepare_stack, run_stack

    try:
        ports = StackPorts.from_base(base_port) if base_port is not None else StackPorts()
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    with _step("Writing the stack's config, secrets and users"):
        plan = prepare_stack(
            stack_dir,
            ports,
            host=host,
            orders=orders,
            seed=seed,
            live_every=live_every,
            first_load=first_load,
        )
    with _step("Parsing the dbt project for Dagster"):
        from ticketing_pipeline.defs.transform import prepare_dbt_manifest

        prepare_dbt_manifest()
    for line in describe(plan, first_load):
        console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(run_stack(plan, print_line=console.print))


@app.command("dagster-home")
def dagster_home() -> None:
    """Create $DAGSTER_HOME with a dagster.yaml that serializes warehouse writers (DuckDB)."""
    from ticketing_pipeline.stack.dagster_home import ensure_local_dagster_home

    path = ensure_local_dagster_home()
    console.print(f"Dagster home: {path}")


# -- operator tools: connection checks, webhook registration, dbt builds ----------------------

accounts_app = typer.Typer(no_args_is_help=True, help="Check the configured platform accounts.")
app.add_typer(accounts_app, name="accounts")

_STEP_MARKS = {"ok": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]"}


def _choose_accounts(config: ProjectConfig, keys: list[str] | None):
    try:
        return [config.account_by_key(key) for key in keys] if keys else None
    except ConfigError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


@accounts_app.command("check")
def accounts_check(
    config_path: ConfigOption = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Only these accounts (platform-account_id)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for monitoring")
    ] = False,
    max_sync_age_hours: Annotated[
        float, typer.Option(help="A last successful sync older than this fails the check")
    ] = 2.0,
) -> None:
    """Per account: config, secret, the platform accepts it, webhook, deliveries, last sync.

    Exits 1 when any enabled account is not healthy, naming what to fix. Never prints secrets.
    """
    import json
    from datetime import timedelta

    from ticketing_pipeline.operations.accounts_check import check_accounts

    config = _load(config_path)
    results = check_accounts(
        config,
        _choose_accounts(config, account),
        max_sync_age=timedelta(hours=max_sync_age_hours),
    )
    healthy = all(r.healthy for r in results)
    if as_json:
        print(json.dumps({"healthy": healthy, "accounts": [r.to_dict() for r in results]}))
    else:
        from rich.markup import escape

        for result in results:
            mark = "[green]✓[/green]" if result.healthy else "[red]✗[/red]"
            if not result.enabled:
                mark = "[dim]- (disabled)[/dim]"
            # One line per account: each step's mark, then the last sync; problems below it.
            steps = "  ".join(
                f"{s.step} {_STEP_MARKS.get(s.status.value, '[dim]-[/dim]')}" for s in result.steps
            )
            last_sync = result.step("last_sync")
            ok_sync = last_sync is not None and last_sync.status.value == "ok"
            tail = f"  last sync {escape(last_sync.detail)}" if ok_sync else ""
            console.print(
                f"{mark} [bold]{result.key}[/bold] ({escape(result.display_name)})  {steps}{tail}",
                highlight=False,
            )
            for step in result.steps:
                if step.status.value in ("warn", "fail"):
                    console.print(f"    {step.step}: {escape(step.detail)}", highlight=False)
                    if step.fix and step.status.value == "fail":
                        console.print(f"      [red]fix:[/red] {escape(step.fix)}", highlight=False)
        if not results:
            console.print("[yellow]No accounts are configured.[/yellow]")
    if not healthy:
        raise typer.Exit(1)


@webhooks_app.command("register")
def webhooks_register(
    config_path: ConfigOption = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Only these Eventbrite accounts (eventbrite-<org>)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would change; change nothing")] = False,
) -> None:
    """Create or fix each Eventbrite organization's webhook to the receiver (idempotent)."""
    from ticketing_pipeline.operations.webhook_registration import register_all

    config = _load(config_path)
    outcomes = register_all(config, dry_run=dry_run, accounts=_choose_accounts(config, account))
    if not outcomes:
        console.print("[yellow]No enabled Eventbrite accounts are configured.[/yellow]")
        raise typer.Exit(2)
    for outcome in outcomes:
        if outcome.error:
            console.print(f"[red]✗ {outcome.account.key}: {outcome.error}[/red]")
        else:
            assert outcome.plan is not None
            console.print(f"[green]✓[/green] {outcome.plan.describe(dry_run=dry_run)}")
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


@app.command()
def build(
    config_path: ConfigOption = None,
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="dbt selection (default: all)")
    ] = None,
) -> None:
    """Build the marts with dbt (models and data tests), showing each one as dbt finishes it."""
    from ticketing_pipeline.operations.build import PRODUCTION_BUILD, NodeOutcome, build_marts

    config = _load(config_path)
    console.print(f"Warehouse: [bold]{_warehouse_or_exit(config).display}[/bold]")

    def show(node: NodeOutcome) -> None:
        colour = "red" if node.failed else "yellow" if node.status == "warn" else "green"
        seconds = f" ({node.seconds:.2f} s)" if node.seconds is not None else ""
        console.print(
            f"  {node.index or '?':>4}/{node.total or '?'} "
            f"[{colour}]{node.status.upper():<7}[/{colour}] "
            f"{node.resource_type} {node.name}{seconds}",
            highlight=False,
            soft_wrap=True,  # one line per node, however long its name
        )

    args = [*PRODUCTION_BUILD, *(["--select", *select] if select else [])]
    started = time.perf_counter()
    result = build_marts(config, args, on_node=show)
    seconds = time.perf_counter() - started
    for error in result.errors:
        console.print(f"[red]dbt: {error}[/red]", soft_wrap=True)
    for node in result.failed_nodes:
        console.print(
            f"[red]✗ {node.resource_type} {node.name}: {node.message}[/red]", soft_wrap=True
        )
    stats = ", ".join(f"{k} {v}" for k, v in result.stats.items())
    if not result.ok:
        console.print(f"[red]Build failed after {seconds:.1f} s[/red] ({stats})")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] Built in {seconds:.1f} s ({stats})")


if __name__ == "__main__":
    app()
