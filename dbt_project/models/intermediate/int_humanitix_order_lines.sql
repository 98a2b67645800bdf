{#
  Humanitix order lines, (account_id, order_id, ticket_type_id), before any allocation, in the
  columns int_order_lines unions (its `line_columns`): it unions them with Eventbrite's and
  splits what the order reports beyond its tickets over them.

  Lines come from the tickets of orders that exist in the store: an order missing from raw has
  no lines, which reconciliation then reports. Amounts are summed as exact decimals and
  converted to integer minor units once per line.
#}
with

orders as (

    select * from {{ ref('stg_humanitix__orders') }}

),

tickets as (

    select * from {{ ref('stg_humanitix__tickets') }}

),

ticket_lines as (

    -- Tickets summed per order line first (exact decimals), converted to minor units once.
    select
        account_id,
        order_id,
        ticket_type_id,
        max(ticket_type_name) as ticket_type_name,
        -- 'webhook' sorts after 'api': the line is "webhook" when any of its rows came so.
        max(ingested_via) as ingested_via,
        count(*) as quantity,
        sum(case when is_cancelled then 1 else 0 end) as quantity_refunded,
        -- The tickets' sale figures (totalsV2, or the legacy fields of older rows): a
        -- cancelled ticket keeps its gross and its refund there, not in its zeroed `total`.
        sum(gross_amount) as gross,
        sum(discount_amount) as discount,
        sum(refunded_amount) as refunded,
        -- fees and tax of the admissions still valid (Humanitix returns them on refund)
        sum(case when is_cancelled then 0 else platform_fee_amount end) as platform_fee,
        sum(case when is_cancelled then 0 else payment_fee_amount end) as payment_fee,
        sum(case when is_cancelled then 0 else tax_amount end) as taxes,
        max(updated_at) as updated_at
    from tickets
    group by account_id, order_id, ticket_type_id

),

final as (

    select
        'humanitix' as platform,
        orders.account_id,
        orders.event_id,
        orders.event_date_id as session_id,
        orders.order_id,
        lines.ticket_type_id,
        lines.ticket_type_name,
        orders.order_state,
        orders.financial_status,
        lines.quantity,
        lines.quantity_refunded,
        orders.currency,
        -- what the buyer paid: net price (after discount, tax included) + passed-on fee
        {{ major_to_minor('lines.gross', 'orders.currency') }} as gross_minor,
        {{ major_to_minor('lines.discount', 'orders.currency') }} as discount_minor,
        {{ major_to_minor('lines.platform_fee', 'orders.currency') }} as platform_fee_minor,
        {{ major_to_minor('lines.payment_fee', 'orders.currency') }} as payment_fee_minor,
        {{ major_to_minor('lines.taxes', 'orders.currency') }} as tax_minor,
        {{ major_to_minor('lines.refunded', 'orders.currency') }} as refunded_minor,
        -- The order's own figures: gross sales, discounts and refunds as Humanitix reports them.
        {{ major_to_minor('coalesce(orders.gross_sales, 0)', 'orders.currency') }}
            as order_gross_minor,
        {{ major_to_minor('coalesce(orders.discounts, 0)', 'orders.currency') }}
            as order_discount_minor,
        {{ major_to_minor('coalesce(orders.refunds, 0)', 'orders.currency') }}
            as order_refunded_minor,
        orders.ordered_at,
        greatest(orders.updated_at, lines.updated_at) as updated_at,
        orders.purchaser_name,
        orders.purchaser_email,
        orders.sales_channel,
        orders.promo_code,
        greatest(orders.ingested_via, lines.ingested_via) as ingested_via
    from ticket_lines as lines
    inner join orders
        on lines.account_id = orders.account_id
        and lines.order_id = orders.order_id

)

select * from final
