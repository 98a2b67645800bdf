"""The data set ``generate`` returns: the stored model plus its ground truth and its changes.

``SandboxStore`` (``model.py``) holds the records; this class adds what needs the modules built
on it (``truth``, ``mutate``), so the model itself imports no other sandbox module. The model's
names are re-exported here for code that imports them from ``dataset``.
"""

from __future__ import annotations

from ticketing_pipeline.sandbox.model import (
    EB_ATT_ATTENDING,
    EB_ATT_DELETED,
    EB_ATT_NOT_ATTENDING,
    EB_ORDER_CANCELLED,
    EB_ORDER_DELETED,
    EB_ORDER_PLACED,
    EB_ORDER_REFUNDED,
    EB_ORDER_STATUS_NAMES,
    HX_TICKET_CANCELLED,
    HX_TICKET_COMPLETE,
    ChangeNotice,
    EbEvent,
    EbOrg,
    EbTicketClass,
    HxAccount,
    HxEvent,
    HxPackage,
    HxSession,
    HxTicketStore,
    HxTicketType,
    SandboxAccount,
    SandboxStore,
)
from ticketing_pipeline.sandbox.mutate import MutationSummary, mutate
from ticketing_pipeline.sandbox.truth import AccountTruth, compute_truth

__all__ = [
    "EB_ATT_ATTENDING",
    "EB_ATT_DELETED",
    "EB_ATT_NOT_ATTENDING",
    "EB_ORDER_CANCELLED",
    "EB_ORDER_DELETED",
    "EB_ORDER_PLACED",
    "EB_ORDER_REFUNDED",
    "EB_ORDER_STATUS_NAMES",
    "HX_TICKET_CANCELLED",
    "HX_TICKET_COMPLETE",
    "ChangeNotice",
    "EbEvent",
    "EbOrg",
    "EbTicketClass",
    "HxAccount",
    "HxEvent",
    "HxPackage",
    "HxSession",
    "HxTicketStore",
    "HxTicketType",
    "SandboxAccount",
    "SandboxDataset",
]


class SandboxDataset(SandboxStore):
    """The generated data of both platforms plus the sandbox clock. Build it with ``generate``.

    Thread-safety: readers (the API handlers) and writers (``mutate``) take ``lock``.
    """

    def truth(self) -> dict[tuple[str, str], AccountTruth]:
        """Ground truth per (platform, account_id), computed from the stored records."""
        with self.lock:
            return compute_truth(self)

    def mutate(self, fraction: float = 0.01, seed: int | None = None) -> MutationSummary:
        """Change ~``fraction`` of the orders at a sandbox time later than any existing one."""
        with self.lock:
            return mutate(self, fraction=fraction, seed=seed)
