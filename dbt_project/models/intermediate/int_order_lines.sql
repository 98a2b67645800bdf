{#
  One row per order line of either platform: (platform, account_id, order_id, ticket_type_id).

  Lines come from the admissions (Humanitix tickets, Eventbrite attendees) of orders that exist
  in the store: an order missing from raw has no lines, which reconciliation then reports.
  Amounts are summed in integer minor units; what the order reports and its admissions do not
  (Eventbrite's order-level discount, any order-level gross the tickets do not carry) is split
  over the lines by largest remainder, so the lines of an order always add up to the order.
  The per-platform definitions of each amount are in int_order_lines.yml and the README.
#}
{%- set order_key = 'platform, account_id, order_id' -%}
with

hx_orders as (

    select * from {{ ref('stg_humanitix__orders') }}

),

hx_tickets as (

    select * from {{ ref('stg_humanitix__tickets') }}

),

hx_lines as (

    select
        tickets.account_id,
        tickets.order_id,
        tickets.ticket_type_id,
        max(tickets.ticket_type_name) as ticket_type_name,
        count(*) as quantity,
        sum(case when tickets.is_cancelled then 1 else 0 end) as quantity_refunded,
        -- what the buyer paid: net price (after discount, tax included) + passed-on fee
        sum({{ major_to_minor('tickets.total', 'orders.currency') }}) as gross_minor,
        sum({{ major_to_minor('tickets.discount', 'orders.currency') }}) as discount_minor,
        -- fees and tax of the admissions still valid (Humanitix returns them on refund)
        sum(case when tickets.is_cancelled then 0
            else {{ major_to_minor('tickets.fee', 'orders.currency') }} end) as platform_fee_minor,
        cast(0 as bigint) as payment_fee_minor,
        sum(case when tickets.is_cancelled then 0
            else {{ major_to_minor('tickets.taxes', 'orders.currency') }} end) as tax_minor,
        sum(case when tickets.is_cancelled
            then {{ major_to_minor('tickets.total', 'orders.currency') }} else 0 end)
            as refunded_minor,
        max(tickets.updated_at) as lines_updated_at
    from hx_tickets as tickets
    inner join hx_orders as orders
        on tickets.account_id = orders.account_id
        and tickets.order_id = orders.order_id
    group by tickets.account_id, tickets.order_id, tickets.ticket_type_id

),

hx_order_lines as (

    select
        'humanitix' as platform,
        orders.account_id,
        orders.event_id,
        orders.event_date_id as session_id,
        orders.order_id,
        lines.ticket_type_id,
        lines.ticket_type_name,
        orders.order_state,
        orders.financial_status as refund_signal,
        sum(lines.quantity) over (partition by orders.account_id, orders.order_id)
            as order_quantity,
        sum(lines.quantity_refunded) over (partition by orders.account_id, orders.order_id)
            as order_quantity_refunded,
        lines.quantity,
        lines.quantity_refunded,
        orders.currency,
        lines.gross_minor,
        lines.discount_minor,
        lines.platform_fee_minor,
        lines.payment_fee_minor,
        lines.tax_minor,
        lines.refunded_minor,
        -- The order's own figures: gross sales and discounts as Humanitix reports them.
        {{ major_to_minor('coalesce(orders.gross_sales, 0)', 'orders.currency') }}
            as order_gross_minor,
        {{ major_to_minor('coalesce(orders.discounts, 0)', 'orders.currency') }}
            as order_discount_minor,
        {{ major_to_minor('coalesce(orders.refunds, 0)', 'orders.currency') }}
            as order_refunded_minor,
        orders.ordered_at,
        greatest(orders.updated_at, lines.lines_updated_at) as updated_at,
        orders.purchaser_name,
        orders.purchaser_email,
        orders.sales_channel,
        orders.promo_code
    from hx_orders as orders
    inner join hx_lines as lines
        on orders.account_id = lines.account_id
        and orders.order_id = lines.order_id

),

eb_orders as (

    select * from {{ ref('stg_eventbrite__orders') }}
    -- Deleted orders never happened as far as sales go (Eventbrite's reports drop them too).
    where order_state <> 'deleted'

),

eb_attendees as (

    select * from {{ ref('stg_eventbrite__attendees') }}

),

eb_lines as (

    select
        account_id,
        order_id,
        ticket_class_id as ticket_type_id,
        max(ticket_class_name) as ticket_type_name,
        sum(quantity) as quantity,
        sum(case when is_voided then quantity else 0 end) as quantity_refunded,
        sum(case when is_refunded then quantity else 0 end) as quantity_money_refunded,
        -- gross = what the buyer paid: base price (after discount) + tax (+ fees passed on)
        sum(gross_minor) as gross_minor,
        -- Eventbrite reports discounts per order only: allocated below.
        cast(0 as bigint) as discount_minor,
        -- fees and tax of admissions whose money was not returned
        sum(case when is_refunded then 0 else eventbrite_fee_minor end) as platform_fee_minor,
        sum(case when is_refunded then 0 else payment_fee_minor end) as payment_fee_minor,
        sum(case when is_refunded then 0 else tax_minor end) as tax_minor,
        sum(case when is_refunded then gross_minor else 0 end) as refunded_minor,
        max(updated_at) as lines_updated_at
    from eb_attendees
    group by account_id, order_id, ticket_class_id

),

eb_order_lines as (

    select
        'eventbrite' as platform,
        orders.account_id,
        orders.event_id,
        orders.event_id as session_id,
        orders.order_id,
        lines.ticket_type_id,
        lines.ticket_type_name,
        orders.order_state,
        case
            when sum(lines.quantity_money_refunded)
                over (partition by orders.account_id, orders.order_id) > 0
                then 'refunded'
            else 'none'
        end as refund_signal,
        sum(lines.quantity) over (partition by orders.account_id, orders.order_id)
            as order_quantity,
        sum(lines.quantity_refunded) over (partition by orders.account_id, orders.order_id)
            as order_quantity_refunded,
        lines.quantity,
        lines.quantity_refunded,
        orders.currency,
        lines.gross_minor,
        lines.discount_minor,
        lines.platform_fee_minor,
        lines.payment_fee_minor,
        lines.tax_minor,
        lines.refunded_minor,
        orders.gross_minor as order_gross_minor,
        orders.discount_minor as order_discount_minor,
        sum(lines.refunded_minor) over (partition by orders.account_id, orders.order_id)
            as order_refunded_minor,
        orders.ordered_at,
        greatest(orders.updated_at, lines.lines_updated_at) as updated_at,
        orders.purchaser_name,
        orders.purchaser_email,
        'online' as sales_channel,
        orders.promo_code
    from eb_orders as orders
    inner join eb_lines as lines
        on orders.account_id = lines.account_id
        and orders.order_id = lines.order_id

),

unioned as (

    select * from hx_order_lines
    union all
    select * from eb_order_lines

),

residuals as (

    -- What the order reports beyond the sum of its lines, to be split over the lines.
    select
        *,
        order_gross_minor - sum(gross_minor) over (partition by {{ order_key }})
            as gross_residual_minor,
        order_discount_minor - sum(discount_minor) over (partition by {{ order_key }})
            as discount_residual_minor,
        order_refunded_minor - sum(refunded_minor) over (partition by {{ order_key }})
            as refunded_residual_minor,
        sum(gross_minor) over (partition by {{ order_key }}) as order_weight,
        count(*) over (partition by {{ order_key }}) as order_line_count
    from unioned

),

allocation_floors as (

    select
        *,
        {{ allocation_floor('gross', 'gross_residual_minor', 'gross_minor', 'order_weight', 'order_line_count') }},
        {{ allocation_floor('discount', 'discount_residual_minor', 'gross_minor', 'order_weight', 'order_line_count') }},
        {{ allocation_floor('refunded', 'refunded_residual_minor', 'refunded_minor', 'order_refunded_minor - refunded_residual_minor', 'order_line_count') }}
    from residuals

),

allocated as (

    select
        *,
        gross_minor
            + {{ allocation_share('gross', 'gross_residual_minor', order_key, 'ticket_type_id') }}
            as line_gross_minor,
        discount_minor
            + {{ allocation_share('discount', 'discount_residual_minor', order_key, 'ticket_type_id') }}
            as line_discount_minor,
        refunded_minor
            + {{ allocation_share('refunded', 'refunded_residual_minor', order_key, 'ticket_type_id') }}
            as line_refunded_minor
    from allocation_floors

),

with_status as (

    select
        *,
        case
            when order_state = 'pending' then 'pending'
            when order_state = 'cancelled' then 'cancelled'
            when order_state = 'refunded' then 'refunded'
            -- Every admission void: refunded if money went back, else cancelled.
            when order_quantity > 0 and order_quantity_refunded >= order_quantity then
                case
                    when refund_signal = 'refunded' or order_refunded_minor > 0 then 'refunded'
                    else 'cancelled'
                end
            -- Some money went back. Admissions cancelled without a refund (free tickets) leave
            -- the order completed, as the platforms' own statuses do.
            when order_refunded_minor > 0 then 'partially_refunded'
            when refund_signal in ('refunded', 'partially_refunded') then 'partially_refunded'
            else 'completed'
        end as order_status
    from allocated

),

sessions as (

    select platform, account_id, session_id, event_id from {{ ref('int_sessions') }}

),

sync_watermarks as (

    select
        platform,
        account_id,
        max(finished_at) as last_loaded_at
    from {{ ref('stg_ops__sync_runs') }}
    where sync_status = 'succeeded'
    group by platform, account_id

),

final as (

    select
        ----------  ids
        {{ hash_key(['lines.platform', 'lines.account_id', 'lines.order_id', 'lines.ticket_type_id']) }}
            as sale_id,
        lines.platform,
        lines.account_id,
        -- Eventbrite series occurrences belong to their series' event (see int_sessions).
        coalesce(sessions.event_id, lines.event_id) as event_id,
        lines.session_id,
        lines.order_id,
        lines.ticket_type_id,

        ----------  strings
        lines.ticket_type_name,
        lines.order_status,
        lines.currency,
        lines.purchaser_name,
        lines.purchaser_email,
        lines.sales_channel,
        lines.promo_code,
        'api' as ingested_via,

        ----------  numerics
        lines.quantity,
        lines.quantity_refunded,
        {{ minor_to_major('lines.line_gross_minor', 'lines.currency') }} as gross_amount,
        {{ minor_to_major('lines.line_discount_minor', 'lines.currency') }} as discount_amount,
        {{ minor_to_major('lines.platform_fee_minor', 'lines.currency') }} as platform_fee_amount,
        {{ minor_to_major('lines.payment_fee_minor', 'lines.currency') }} as payment_fee_amount,
        {{ minor_to_major('lines.tax_minor', 'lines.currency') }} as tax_amount,
        {{ minor_to_major(
            'lines.line_gross_minor - lines.line_refunded_minor'
            ~ ' - lines.platform_fee_minor - lines.payment_fee_minor',
            'lines.currency'
        ) }} as net_amount,
        {{ minor_to_major('lines.line_refunded_minor', 'lines.currency') }} as refunded_amount,

        ----------  timestamps
        lines.ordered_at,
        lines.updated_at,
        coalesce(sync_watermarks.last_loaded_at, current_timestamp) as loaded_at

    from with_status as lines
    left join sessions
        on lines.platform = sessions.platform
        and lines.account_id = sessions.account_id
        and lines.session_id = sessions.session_id
    left join sync_watermarks
        on lines.platform = sync_watermarks.platform
        and lines.account_id = sync_watermarks.account_id

)

select * from final
