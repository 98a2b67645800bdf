"""Asset checks on the marts, beyond dbt's tests: what consumers of the marts rely on.

Each check reads the warehouse (read-only on DuckDB) and says precisely what is wrong: the
reconciliation check names the events out of tolerance, so an operator can act on its message.
"""

# No `from __future__ import annotations`: Dagster checks the context annotation's type at
# definition time, which a string annotation fails.

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import sqlalchemy as sa

from ticketing_pipeline.warehouse import Warehouse

MART_SCHEMA = "marts"
TICKET_SALES = dg.AssetKey([MART_SCHEMA, "ticket_sales"])
SESSION_COMPLETE = dg.AssetKey([MART_SCHEMA, "session_complete"])
RECONCILIATION = dg.AssetKey([MART_SCHEMA, "ticket_reconciliation"])
DAILY_SALES = dg.AssetKey([MART_SCHEMA, "daily_sales"])

# Active ISO 4217 codes (funds and metals included; XTS/XXX, the test and "no currency" codes,
# are not valid for a sale).
_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
    XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
"""
ISO_4217_CODES = frozenset(_ISO_4217_TEXT.split())

# How many offending rows a check's message lists (the metadata holds the count).
MAX_LISTED = 20


def _query(warehouse: Warehouse, sql: str) -> list[sa.Row[Any]]:
    with warehouse.connect(read_only=True) as connection:
        return list(connection.execute(sa.text(sql)))


def _listing(lines: Sequence[str]) -> str:
    shown = "\n".join(f"- {line}" for line in lines[:MAX_LISTED])
    more = len(lines) - MAX_LISTED
    return shown + (f"\n- ... and {more} more" if more > 0 else "")


def reconciliation_failures(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Sessions whose platform and store figures differ beyond the dbt tolerance vars."""
    rows = _query(
        warehouse,
        f"""
        select platform, account_id, event_id, session_id, currency, status,
               platform_tickets_sold, store_tickets_sold, tickets_sold_difference,
               platform_gross_amount, store_gross_amount, gross_amount_difference
        from {MART_SCHEMA}.ticket_reconciliation
        where status <> 'match'
        order by platform, account_id, event_id, session_id
        """,
    )
    return [dict(row._mapping) for row in rows]


def describe_reconciliation_failure(row: dict[str, Any]) -> str:
    return (
        f"{row['platform']} account {row['account_id']} event {row['event_id']} "
        f"(session {row['session_id']}): {row['status']}; tickets platform "
        f"{row['platform_tickets_sold']} vs store {row['store_tickets_sold']}, gross "
        f"{row['currency']} {row['platform_gross_amount']} vs {row['store_gross_amount']}"
    )


def check_reconciliation(warehouse: Warehouse) -> dg.AssetCheckResult:
    failures = reconciliation_failures(warehouse)
    events = sorted({f"{f['platform']}/{f['account_id']}/{f['event_id']}" for f in failures})
    return dg.AssetCheckResult(
        asset_key=RECONCILIATION,
        check_name="reconciliation_within_tolerance",
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "All sessions reconcile."
            if not failures
            else f"{len(events)} event(s) out of tolerance:\n"
            + _listing([describe_reconciliation_failure(f) for f in failures])
        ),
        metadata={
            "sessions_out_of_tolerance": len(failures),
            "events_out_of_tolerance": dg.MetadataValue.json(events),
        },
    )


def check_no_duplicate_sale_ids(warehouse: Warehouse) -> dg.AssetCheckResult:
    rows = _query(
        warehouse,
        f"select sale_id, count(*) as n from {MART_SCHEMA}.ticket_sales "
        "group by sale_id having count(*) > 1 order by sale_id",
    )
    return dg.AssetCheckResult(
        asset_key=TICKET_SALES,
        check_name="no_duplicate_sale_ids",
        passed=not rows,
        description=_listing([f"{r.sale_id} x{r.n}" for r in rows]) if rows else None,
        metadata={"duplicate_sale_ids": len(rows)},
    )


def check_no_negative_quantities(warehouse: Warehouse) -> dg.AssetCheckResult:
    rows = _query(
        warehouse,
        f"select sale_id, platform, order_id, quantity, quantity_refunded "
        f"from {MART_SCHEMA}.ticket_sales where quantity < 0 or quantity_refunded < 0 "
        "order by sale_id",
    )
    lines = [
        f"{r.platform} order {r.order_id}: quantity {r.quantity}, refunded {r.quantity_refunded}"
        for r in rows
    ]
    return dg.AssetCheckResult(
        asset_key=TICKET_SALES,
        check_name="no_negative_quantities",
        passed=not rows,
        description=_listing(lines) if rows else None,
        metadata={"negative_rows": len(rows)},
    )


def check_currencies_are_iso_4217(warehouse: Warehouse) -> dg.AssetCheckResult:
    rows = _query(
        warehouse,
        f"select coalesce(currency, '(null)') as currency, count(*) as n "
        f"from {MART_SCHEMA}.ticket_sales group by 1 order by 1",
    )
    invalid = [r for r in rows if r.currency not in ISO_4217_CODES]
    return dg.AssetCheckResult(
        asset_key=TICKET_SALES,
        check_name="currencies_are_iso_4217",
        passed=not invalid,
        description=(
            _listing([f"'{r.currency}' on {r.n} rows" for r in invalid]) if invalid else None
        ),
        metadata={
            "currencies": dg.MetadataValue.json(sorted(r.currency for r in rows)),
            "invalid_currencies": dg.MetadataValue.json([r.currency for r in invalid]),
        },
    )


@dataclass(frozen=True)
class MartCheck:
    spec: dg.AssetCheckSpec
    evaluate: Callable[[Warehouse], dg.AssetCheckResult]


MART_CHECKS = (
    MartCheck(
        dg.AssetCheckSpec(
            "reconciliation_within_tolerance",
            asset=RECONCILIATION,
            description=(
                "Every session's tickets sold and gross match the platform's own figures within "
                "the dbt vars reconciliation_ticket_tolerance / reconciliation_amount_tolerance; "
                "fails naming the events that do not."
            ),
        ),
        check_reconciliation,
    ),
    MartCheck(
        dg.AssetCheckSpec(
            "no_duplicate_sale_ids",
            asset=TICKET_SALES,
            description="sale_id identifies one order line: no id appears twice.",
        ),
        check_no_duplicate_sale_ids,
    ),
    MartCheck(
        dg.AssetCheckSpec(
            "no_negative_quantities",
            asset=TICKET_SALES,
            description="quantity and quantity_refunded are never negative.",
        ),
        check_no_negative_quantities,
    ),
    MartCheck(
        dg.AssetCheckSpec(
            "currencies_are_iso_4217",
            asset=TICKET_SALES,
            description=(
                "Every sale's currency is an active ISO 4217 code (amounts are per currency)."
            ),
        ),
        check_currencies_are_iso_4217,
    ),
)


def evaluate_mart_checks(
    warehouse: Warehouse, assets: Collection[dg.AssetKey] | None = None
) -> list[dg.AssetCheckResult]:
    """Every mart check (on ``assets`` only, when given), evaluated here, one after another."""
    return [
        check.evaluate(warehouse)
        for check in MART_CHECKS
        if assets is None or check.spec.asset_key in assets
    ]


def build_mart_check_step(
    warehouse: Warehouse, pool: str | None = None
) -> dg.AssetChecksDefinition:
    """The mart checks as ONE step: each check is 0.4 s of SQL, while a step of its own costs a
    process start (~25 s of imports) under the multiprocess executor and a turn in the pool."""

    @dg.multi_asset_check(
        specs=[check.spec for check in MART_CHECKS],
        name="mart_checks",
        can_subset=True,
        pool=pool,
    )
    def mart_checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        for check in MART_CHECKS:
            if check.spec.key in context.selected_asset_check_keys:
                yield check.evaluate(warehouse)

    return mart_checks


def build_mart_checks(
    warehouse: Warehouse, pool: str | None = None
) -> list[dg.AssetChecksDefinition]:
    """Each mart check as its own definition (called one by one in tests and tools); the
    project's definitions use :func:`build_mart_check_step`."""

    def single(check: MartCheck) -> dg.AssetChecksDefinition:
        @dg.asset_check(
            asset=check.spec.asset_key,
            name=check.spec.name,
            description=check.spec.description,
            pool=pool,
        )
        def mart_check() -> dg.AssetCheckResult:
            return check.evaluate(warehouse)

        return mart_check

    return [single(check) for check in MART_CHECKS]
