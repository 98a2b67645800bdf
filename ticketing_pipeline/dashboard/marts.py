"""The marts the dashboard reads, as lightweight SQLAlchemy table clauses.

Only the columns the dashboard uses are declared (see the dbt models' YAML for the contracts):
no reflection at start-up, and a renamed mart column fails the dashboard's tests, not a user.
"""

from __future__ import annotations

import sqlalchemy as sa

MARTS_SCHEMA = "marts"


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns), schema=MARTS_SCHEMA)


_IDS = ("platform", "account_id", "event_id", "session_id")
_MONEY = (
    "gross_amount",
    "discount_amount",
    "platform_fee_amount",
    "payment_fee_amount",
    "tax_amount",
    "refunded_amount",
    "net_amount",
)
TICKET_SALES = _table(
    "ticket_sales",
    *_IDS,
    "order_id",
    "ticket_type_id",
    "ticket_type_name",
    "order_status",
    "quantity",
    "quantity_refunded",
    "currency",
    *_MONEY,
    "ordered_at",
    "purchaser_name",
    "purchaser_email",
    "sales_channel",
    "promo_code",
)
DAILY_SALES = _table(
    "daily_sales",
    "sales_date",
    *_IDS,
    "currency",
    "orders_count",
    "tickets_ordered",
    "tickets_refunded",
    "tickets_sold",
    *_MONEY,
)
SESSIONS = _table(
    "session_complete",
    *_IDS,
    "event_name",
    "session_name",
    "status",
    "starts_at",
    "timezone",
    "venue_name",
    "city",
    "capacity",
    "tickets_sold",
    "tickets_remaining",
    "is_sold_out",
    "currency",
    "gross_sales",
    "net_sales",
    "last_order_at",
    "sales_rate_per_day",
    "projected_sell_out_at",
    "forecast_status",
)
RECONCILIATION = _table(
    "ticket_reconciliation",
    *_IDS,
    "currency",
    "platform_tickets_sold",
    "store_tickets_sold",
    "tickets_sold_difference",
    "platform_gross_amount",
    "store_gross_amount",
    "gross_amount_difference",
    "status",
    "checked_at",
)
PLATFORMS = _table(
    "ticket_platforms",
    "platform",
    "account_id",
    "display_name",
    "is_configured",
    "is_enabled",
    "last_successful_sync_at",
    "last_sync_at",
    "last_sync_status",
    "last_sync_error",
)
