"""``ticketing up``: the whole local stack from one command, under honcho (a Foreman clone).

``prepare_stack()`` writes, under the stack directory (``data/stack/`` by default):

- ``.env`` (mode 0600): the sandbox accounts' API keys, a webhook secret per account (an
  Eventbrite URL token; a Humanitix relay ``whsec_`` secret) and the stack's paths. Secrets are
  generated once and kept across runs, so registered webhooks and signed relays stay valid.
- ``ticketing.toml``: the sandbox accounts, the DuckDB warehouse in the stack directory, the
  receiver's URL and, when ``TICKETING_ALERTS_SLACK_WEBHOOK_URL`` is set, alerts to it. Names of
  variables only, no secret (rewritten each run: ports may change).
- ``dashboard_users.toml`` (0600): an admin and a promoter of the first account, with generated
  passwords, shown once when the file is created (argon2 hashes only on disk).
- ``dagster_home/dagster.yaml``: the local instance (pool limit 1: DuckDB has one writer).
- ``Procfile``: the processes, so ``honcho start -f data/stack/Procfile -e data/stack/.env``
  runs the same stack; ``run_stack()`` runs them with honcho's ``Manager``.

The processes: the sandbox in live mode (``--live-every``), the webhook receiver, ``dagster dev``
(webserver + daemon: schedules and sensors run), the dashboard, the Gigs feed, and ``setup``
(``stack/setup.py``: registers the Eventbrite webhooks with the sandbox, runs the first load,
then idles, since honcho stops everything when one process ends). Ctrl-C (SIGINT) makes honcho
send SIGTERM to each process group, then SIGKILL after 15 s; ``run_stack`` then kills any
process left in those groups.
"""

from __future__ import annotations

import base64
import os
import secrets
import shlex
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from ticketing_pipeline.sandbox_harness.config import (
    SANDBOX_SYNC,
    sandbox_base_urls,
    secret_env_name,
    webhook_env_name,
)

ALERTS_SLACK_ENV = "TICKETING_ALERTS_SLACK_WEBHOOK_URL"
DEFAULT_STACK_DIR = Path("data/stack")
PROCESS_NAMES = ("sandbox", "receiver", "dagster", "dashboard", "gigs", "setup")
STOP_GRACE_SECONDS = 15


@dataclass(frozen=True)
class StackPorts:
    sandbox: int = 8765
    receiver: int = 8787
    dagster: int = 3000
    dashboard: int = 8501
    gigs: int = 8790

    @classmethod
    def from_base(cls, base: int) -> StackPorts:
        """Five consecutive ports from ``base``, in the order of the fields."""
        if not 1024 <= base <= 65530:
            raise ValueError("the base port must be between 1024 and 65530")
        return cls(base, base + 1, base + 2, base + 3, base + 4)


@dataclass
class StackPlan:
    stack_dir: Path
    host: str
    ports: StackPorts
    config_file: Path
    env_file: Path
    users_file: Path
    procfile: Path
    dagster_home: Path
    processes: dict[str, str]
    environment: dict[str, str]  # what .env holds (secrets included): for the children only
    accounts: list[tuple[str, str]]  # (key, display name)
    new_passwords: dict[str, str] = field(default_factory=dict)

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[name.strip()] = value.strip()
    return values


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, created so from the start (no readable moment)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC


def _new_webhook_secret(platform: str) -> str:
    if platform == "eventbrite":
        # Eventbrite does not sign: the secret is a token in the webhook URL (URL-safe).
        return secrets.token_urlsafe(32)
    # Standard Webhooks' form for the relay's signing key.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _sandbox_accounts(orders: int, seed: int):
    from ticketing_pipeline.sandbox.generator import SandboxSpec, generate

    # The sandbox process generates the same data set from the same spec (deterministic).
    return generate(SandboxSpec(seed=seed, orders=orders)).accounts


def _config_document(plan_host: str, ports: StackPorts, accounts, alerts: bool) -> str:
    humanitix_url, eventbrite_url = sandbox_base_urls(f"http://{plan_host}:{ports.sandbox}")
    document = tomlkit.document()
    document.add(tomlkit.comment("Written by `ticketing up` on every start; secrets are in .env."))
    document["data_dir"] = "."  # this directory: warehouse, landing area, dlt state
    document["warehouse"] = {"url": "duckdb:///warehouse.duckdb"}
    document["sync"] = {
        "eventbrite_calls_per_hour": SANDBOX_SYNC.eventbrite_calls_per_hour,
        "eventbrite_burst": SANDBOX_SYNC.eventbrite_burst,
    }
    document["webhooks"] = {"public_url": f"http://{plan_host}:{ports.receiver}"}
    if alerts:
        document["alerts"] = {"slack_webhook_url_env": ALERTS_SLACK_ENV}
    else:
        document.add(
            tomlkit.comment(
                f"[alerts]: export {ALERTS_SLACK_ENV}=<incoming webhook URL> before `ticketing "
                "up`, or add email_to / smtp_host here (see README)."
            )
        )
    table = tomlkit.aot()
    for account in accounts:
        table.append(
            tomlkit.item(
                {
                    "platform": account.platform,
                    "account_id": account.account_id,
                    "display_name": account.display_name,
                    "secret_env": secret_env_name(account.platform, account.account_id),
                    "webhook_secret_env": webhook_env_name(account.platform, account.account_id),
                    "base_url": (
                        humanitix_url if account.platform == "humanitix" else eventbrite_url
                    ),
                }
            )
        )
    document["accounts"] = table
    return tomlkit.dumps(document)


def _users_document(accounts) -> tuple[str, dict[str, str]]:
    from ticketing_pipeline.dashboard.auth import hash_password

    promoter_account = accounts[0]
    passwords = {"admin": secrets.token_urlsafe(12), "promoter": secrets.token_urlsafe(12)}
    document = tomlkit.document()
    document.add(tomlkit.comment("Demo users written by `ticketing up` (argon2 hashes only)."))
    document["users"] = {
        "admin": {
            "role": "admin",
            "display_name": "Stack admin",
            "password_hash": hash_password(passwords["admin"]),
        },
        "promoter": {
            "role": "promoter",
            "display_name": f"Promoter of {promoter_account.display_name}",
            "password_hash": hash_password(passwords["promoter"]),
            "grants": [
                {"platform": promoter_account.platform, "account_id": promoter_account.account_id}
            ],
        },
    }
    return tomlkit.dumps(document), passwords


def prepare_stack(
    stack_dir: Path = DEFAULT_STACK_DIR,
    ports: StackPorts | None = None,
    *,
    host: str = "127.0.0.1",
    orders: int = 20_000,
    seed: int = 7,
    live_every: float = 30.0,
    live_changes: int = 5,
    first_load: bool = True,
) -> StackPlan:
    """Write the stack's files (see the module docstring) and return what to run."""
    from ticketing_pipeline.stack.dagster_home import ensure_local_dagster_home

    ports = ports or StackPorts()
    stack_dir = stack_dir.resolve()
    stack_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(stack_dir, 0o700)
    accounts = _sandbox_accounts(orders, seed)
    config_file = stack_dir / "ticketing.toml"
    env_file = stack_dir / ".env"
    users_file = stack_dir / "dashboard_users.toml"
    dagster_home = ensure_local_dagster_home(stack_dir / "dagster_home")

    environment = _read_env(env_file)
    for account in accounts:
        environment[secret_env_name(account.platform, account.account_id)] = account.secret
        webhook_env = webhook_env_name(account.platform, account.account_id)
        if not environment.get(webhook_env):
            environment[webhook_env] = _new_webhook_secret(account.platform)
    environment.update(
        {
            "TICKETING_CONFIG": str(config_file),
            "DAGSTER_HOME": str(dagster_home),
            "TICKETING_DASHBOARD_USERS": str(users_file),
        }
    )
    _write_private(
        env_file,
        "# Written by `ticketing up`: local secrets of the stack. Never commit this file.\n"
        + "".join(f"{name}={value}\n" for name, value in sorted(environment.items())),
    )
    config_file.write_text(
        _config_document(host, ports, accounts, alerts=bool(os.environ.get(ALERTS_SLACK_ENV)))
    )
    new_passwords: dict[str, str] = {}
    if not users_file.exists():
        text, new_passwords = _users_document(accounts)
        _write_private(users_file, text)

    python = shlex.quote(sys.executable)
    cli = f"{python} -m ticketing_pipeline.cli"
    config = shlex.quote(str(config_file))
    processes = {
        "sandbox": (
            f"{cli} sandbox serve --host {host} --port {ports.sandbox} --orders {orders} "
            f"--seed {seed} --live-every {live_every:g} --live-changes {live_changes} "
            # Anchored today: the Gigs feed and the dashboard have upcoming sessions to show.
            "--anchor today "
            f"--relay-config {config}"
        ),
        "receiver": f"{cli} webhooks serve -c {config} --host {host} --port {ports.receiver}",
        "dagster": (
            f"{python} -m dagster dev -m ticketing_pipeline.definitions "
            f"-h {host} -p {ports.dagster}"
        ),
        "dashboard": (
            f"{cli} dashboard -c {config} --users {shlex.quote(str(users_file))} "
            f"--host {host} --port {ports.dashboard}"
        ),
        "gigs": f"{cli} gigs serve -c {config} --host {host} --port {ports.gigs}",
        "setup": (
            f"{python} -m ticketing_pipeline.stack.setup -c {config} "
            f"--sandbox-url http://{host}:{ports.sandbox} "
            f"--receiver-url http://{host}:{ports.receiver}"
            + ("" if first_load else " --no-first-load")
        ),
    }
    procfile = stack_dir / "Procfile"
    procfile.write_text(
        "# Written by `ticketing up`; run with: honcho start -f Procfile -e .env\n"
        + "".join(f"{name}: {command}\n" for name, command in processes.items())
    )
    return StackPlan(
        stack_dir=stack_dir,
        host=host,
        ports=ports,
        config_file=config_file,
        env_file=env_file,
        users_file=users_file,
        procfile=procfile,
        dagster_home=dagster_home,
        processes=processes,
        environment=environment,
        accounts=[(f"{a.platform}-{a.account_id}", a.display_name) for a in accounts],
        new_passwords=new_passwords,
    )


def describe(plan: StackPlan, first_load: bool) -> list[str]:
    """What the user needs: where each part is, the users, the files; never a secret (the
    one-time demo passwords excepted, shown only when the users file was just created)."""
    p = plan.ports
    lines = [
        f"Sandbox (both fake APIs, live): {plan.url(p.sandbox)}  "
        "(/humanitix/v1, /eventbrite/v3, /_sandbox/health)",
        f"Webhook receiver:               {plan.url(p.receiver)}/healthz",
        f"Dagster UI (schedules+sensors): {plan.url(p.dagster)}",
        f"Dashboard:                      {plan.url(p.dashboard)}",
        f"Gigs feed:                      {plan.url(p.gigs)}/v1/gigs  (page: /)",
        "Accounts: " + ", ".join(key for key, _ in plan.accounts),
    ]
    if plan.new_passwords:
        lines.append("Dashboard users (passwords shown once, only hashes are stored):")
        lines += [f"  {user}: {password}" for user, password in plan.new_passwords.items()]
    else:
        lines.append(
            f"Dashboard users admin and promoter: passwords were shown when {plan.users_file} "
            "was created; delete it for new ones."
        )
    lines += [
        f"Config: {plan.config_file}   secrets: {plan.env_file} (0600)",
        f"Procfile: {plan.procfile}",
        (
            "First load: the setup process syncs every account and builds the marts now "
            f"(the same as `ticketing sync -c {plan.config_file} && ticketing build -c "
            f"{plan.config_file}`); in Dagster, 'Materialize all' does it too."
            if first_load
            else "First load: skipped; run `ticketing sync -c CONFIG && ticketing build -c "
            "CONFIG` or 'Materialize all' in Dagster."
        ),
        "Ctrl-C stops everything.",
    ]
    return lines


def run_stack(plan: StackPlan, print_line=print) -> int:
    """Run the processes until Ctrl-C (or one of them ends); returns honcho's exit code."""
    import honcho.manager
    from honcho.manager import Manager

    # honcho waits 5 s between SIGTERM and SIGKILL; `dagster dev` needs a little longer to stop
    # its webserver, daemon and code server cleanly (runs and SQLite storage left consistent).
    honcho.manager.KILL_WAIT = STOP_GRACE_SECONDS

    # Children write to honcho's pipe, not a terminal: unbuffered, and rich tables as wide as
    # a usual terminal rather than 80 columns.
    environment = {
        "COLUMNS": "160",
        **os.environ,
        **plan.environment,
        "PYTHONUNBUFFERED": "1",
    }
    manager = Manager()
    for name, command in plan.processes.items():
        manager.add_process(name, command, env=environment, cwd=os.getcwd())
    try:
        manager.loop()
    finally:
        # honcho signals each process group once the group's leader is known; whatever is
        # still alive in those groups (a grandchild that ignored SIGTERM) is ended here, by id.
        for name, state in manager._processes.items():  # noqa: SLF001 - no public accessor
            pid = state.get("pid")
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                    print_line(f"killed what was left of {name} (process group {pid})")
                except (ProcessLookupError, PermissionError):
                    pass
    return manager.returncode or 0
