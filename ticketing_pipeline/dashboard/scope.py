"""What one dashboard user may see: every row (admin) or the rows of their grants (promoter).

A scope is plain data, built by ``auth`` from the users file and applied to SQL by ``queries``
(``scope_condition``) only. It is frozen and hashable so it can be part of a cache key: a cached
result can then never be served to a user with another scope.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grant:
    """One account, or some events of one account, a promoter may see."""

    platform: str
    account_id: str
    # None: every event of the account (also events created after the grant was written).
    event_ids: tuple[str, ...] | None = None
    # Purchaser emails of these rows are shown unmasked.
    emails: bool = False


@dataclass(frozen=True)
class Scope:
    is_admin: bool = False
    grants: tuple[Grant, ...] = ()

    @classmethod
    def admin(cls) -> Scope:
        return cls(is_admin=True)

    @classmethod
    def promoter(cls, grants: tuple[Grant, ...] | list[Grant]) -> Scope:
        return cls(is_admin=False, grants=tuple(grants))

    @property
    def sees_nothing(self) -> bool:
        return not self.is_admin and not self.grants
