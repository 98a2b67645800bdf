"""Running the receiver under uvicorn: ``serve(config, host, port, workers)``.

With several workers uvicorn starts each in a fresh process from an import string, so the
configuration (which holds no secrets, only the names of their variables) is handed over in an
environment variable, and every worker reads the secrets from its inherited environment. The
landing area is safe for several writers, so workers need nothing else in common.

uvicorn's own access log is off: it prints the request path, and the Eventbrite path holds the
account's token. ``access_log=True`` logs the same lines with the token masked.

Anonymous clients must not hold memory or connections: uvicorn runs its h11 protocol, whose
parser bounds the request head (``MAX_HEAD_BYTES``; httptools has no such limit), idle keep-alive
connections close after ``KEEP_ALIVE_SECONDS``, at most ``MAX_CONCURRENCY`` connections are served
at once (503 beyond, which senders retry), and the app times out bodies that arrive too slowly.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys

import uvicorn
import uvicorn.config
from starlette.applications import Starlette

from ...config import ConfigError, ProjectConfig, load_config
from ..landing import LandingArea
from .app import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    METRICS_TOKEN_ENV,
    create_app,
    metrics_token_from_environment,
)
from .auth import load_account_auth

CONFIG_JSON_ENV = "TICKETING_WEBHOOKS_CONFIG_JSON"
OPTIONS_ENV = "TICKETING_WEBHOOKS_OPTIONS"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
# Our requests carry a handful of short headers; h11 answers 400 to a larger head and closes.
MAX_HEAD_BYTES = 16 * 1024
KEEP_ALIVE_SECONDS = 5
# Each connection may buffer at most one body (max_body_bytes): this bounds the memory of them all.
MAX_CONCURRENCY = 512

log = logging.getLogger("ticketing_pipeline.webhooks")


def check_startup(config: ProjectConfig) -> LandingArea:
    """Everything that must hold before listening; raises ``ConfigError`` saying what to fix."""
    load_account_auth(config)  # names the account and the variable of a missing secret
    metrics_token_from_environment()  # a weak metrics token is refused as well
    landing = LandingArea.for_data_dir(config.data_dir)
    try:
        landing.ensure()
    except OSError as error:
        raise ConfigError(f"cannot create the landing area {landing.root}: {error}") from error
    return landing


def serve(
    config: ProjectConfig,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    access_log: bool = False,
    log_level: str = "info",
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> None:
    """Serve the receiver until interrupted. Raises ``ConfigError`` instead of starting if an
    enabled account has no webhook secret or the landing area cannot be created."""
    check_startup(config)
    if host not in ("127.0.0.1", "::1", "localhost") and not os.environ.get(METRICS_TOKEN_ENV):
        log.warning(
            "listening on %s with /metrics open to anyone: set %s to require a bearer token",
            host,
            METRICS_TOKEN_ENV,
        )
    common = uvicorn_options(host, port, log_level)
    if workers <= 1:
        app = create_app(
            config, max_body_bytes=max_body_bytes, access_log=access_log, body_timeout=body_timeout
        )
        uvicorn.run(app, **common)
        return
    os.environ[CONFIG_JSON_ENV] = config.model_dump_json()
    os.environ[OPTIONS_ENV] = f"{max_body_bytes},{int(access_log)},{body_timeout}"
    uvicorn.run(
        "ticketing_pipeline.webhooks.receiver.server:app_from_environment",
        factory=True,
        workers=workers,
        **common,
    )


def uvicorn_options(host: str, port: int, log_level: str = "info") -> dict:
    """The uvicorn settings the receiver runs with (also used by the tests)."""
    return {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": _log_config(log_level),
        "access_log": False,  # it would print Eventbrite tokens; see _Guard in app.py
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
        "http": "h11",  # bounds the request head; httptools would accept any size
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": MAX_CONCURRENCY,
    }


def _log_config(log_level: str) -> dict:
    """uvicorn's logging setup plus the receiver's logger, so its lines appear in every worker."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["ticketing_pipeline.webhooks"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    return config


def app_from_environment() -> Starlette:
    """uvicorn worker entry point (see ``serve``)."""
    config = ProjectConfig.model_validate_json(os.environ[CONFIG_JSON_ENV])
    default = f"{DEFAULT_MAX_BODY_BYTES},0,{DEFAULT_BODY_TIMEOUT}"
    max_body, access, body_timeout = os.environ.get(OPTIONS_ENV, default).split(",")
    return create_app(
        config,
        max_body_bytes=int(max_body),
        access_log=access == "1",
        body_timeout=float(body_timeout),
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m ticketing_pipeline.webhooks``: the receiver without the project CLI."""
    parser = argparse.ArgumentParser(prog="python -m ticketing_pipeline.webhooks")
    parser.add_argument(
        "--config", help="TOML config (default: $TICKETING_CONFIG or ./ticketing.toml)"
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT,
        help="seconds a request body may take to arrive (408 after)",
    )
    parser.add_argument("--access-log", action="store_true", help="log requests (token masked)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = load_config(args.config)
        serve(
            config,
            args.host,
            args.port,
            args.workers,
            max_body_bytes=args.max_body_bytes,
            access_log=args.access_log,
            log_level=args.log_level,
            body_timeout=args.body_timeout,
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
