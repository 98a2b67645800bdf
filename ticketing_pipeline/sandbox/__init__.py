"""Local fake of the Humanitix and Eventbrite REST APIs over a deterministic data set.

See README.md in this folder. Entry points: ``generate(SandboxSpec(...))`` for the data,
``build_app(dataset)`` for the ASGI app, ``SandboxServer`` for tests and demos, ``serve`` for a CLI.

Layout (imports run one way, no cycles): ``model`` holds the spec, the record dataclasses and
the store and imports no other sandbox module; ``formats``, ``money``, ``humanitix_records``
and ``eventbrite_records`` render wire shapes; ``generation/`` builds the data, one module per
platform (``humanitix``, ``eventbrite``, with their ``*_orders`` builders) on
``generation/common`` (reference data, names, calendars, sales curves, sell-outs); ``mutate``
and ``truth`` work on the store; ``dataset.SandboxDataset`` adds ``truth()`` and ``mutate()``
to it; ``generator.generate`` composes the platforms; ``humanitix_api``, ``eventbrite_api``,
``eventbrite_webhooks`` (sharing ``eventbrite_auth``), ``control_api`` and ``server`` serve it.
"""

from ticketing_pipeline.sandbox.cache import load_or_generate
from ticketing_pipeline.sandbox.dataset import ChangeNotice, SandboxAccount, SandboxDataset
from ticketing_pipeline.sandbox.faults import FaultInjector, FaultRule, RateLimit
from ticketing_pipeline.sandbox.generator import SandboxSpec, generate
from ticketing_pipeline.sandbox.mutate import MutationSummary
from ticketing_pipeline.sandbox.server import SandboxServer, build_app, serve
from ticketing_pipeline.sandbox.truth import AccountTruth
from ticketing_pipeline.sandbox.webhook_sender import DeliveryResult, SendReport, WebhookSender

__all__ = [
    "AccountTruth",
    "ChangeNotice",
    "DeliveryResult",
    "FaultInjector",
    "FaultRule",
    "MutationSummary",
    "RateLimit",
    "SandboxAccount",
    "SandboxDataset",
    "SandboxServer",
    "SandboxSpec",
    "SendReport",
    "WebhookSender",
    "build_app",
    "generate",
    "load_or_generate",
    "serve",
]
