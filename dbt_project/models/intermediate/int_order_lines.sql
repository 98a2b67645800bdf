{#
  One row per order line of either platform: (platform, account_id, order_id, ticket_type_id).

  Lines come from the admissions (Humanitix tickets, Eventbrite attendees) of orders that exist
  in the store: an order missing from raw has no lines, which reconciliation then reports.
  Amounts are summed in integer minor units; what the order reports and its admissions do not
  (Eventbrite's order-level discount, any order-level gross or refund the tickets do not carry)
  is split over the lines by largest remainder, so the lines of an order always add up to the
  order. Definitions of each amount: ticket_sales.yml and the README.

  Performance: order-level figures are grouped once and joined back (no window over a million
  lines); the window functions of the allocation only see the few orders that need one.
#}
{%- set order_key = 'platform, account_id, order_id' -%}
{%- set allocated_amounts = ['gross', 'discount', 'refunded'] -%}
with

hx_orders as (

    select * from {{ ref('stg_humanitix__orders') }}

),

hx_tickets as (

    select * from {{ ref('stg_humanitix__tickets') }}

),

hx_ticket_lines as (

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
    from hx_tickets
    group by account_id, order_id, ticket_type_id

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
    from hx_ticket_lines as lines
    inner join hx_orders as orders
        on lines.account_id = orders.account_id
        and lines.order_id = orders.order_id

),

eb_orders as (

    select * from {{ ref('stg_eventbrite__orders') }}
    -- Deleted orders never happened as far as sales go (Eventbrite's reports drop them too).
    where order_state <> 'deleted'

),

eb_attendees as (

    select * from {{ ref('stg_eventbrite__attendees') }}

),

eb_attendee_lines as (

    select
        account_id,
        order_id,
        ticket_class_id,
        max(ticket_class_name) as ticket_class_name,
        max(ingested_via) as ingested_via,
        sum(quantity) as quantity,
        sum(case when is_voided then quantity else 0 end) as quantity_refunded,
        -- gross = what the buyer paid: base price (after discount) + tax (+ fees passed on)
        sum(gross_minor) as gross_minor,
        -- Costs never change after purchase; a void admission's money is no longer collected
        -- (refunded, or the order cancelled): it counts as refunded, and so do its fees and tax.
        sum(case when is_voided then 0 else eventbrite_fee_minor end) as platform_fee_minor,
        sum(case when is_voided then 0 else payment_fee_minor end) as payment_fee_minor,
        sum(case when is_voided then 0 else tax_minor end) as tax_minor,
        sum(case when is_voided then gross_minor else 0 end) as refunded_minor,
        max(updated_at) as updated_at
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
        lines.ticket_class_id as ticket_type_id,
        lines.ticket_class_name as ticket_type_name,
        orders.order_state,
        -- No financial status on Eventbrite: the money of void attendees tells (see below).
        cast(null as {{ text_type() }}) as financial_status,
        lines.quantity,
        lines.quantity_refunded,
        orders.currency,
        lines.gross_minor,
        -- Eventbrite reports discounts per order only: allocated below.
        cast(0 as bigint) as discount_minor,
        lines.platform_fee_minor,
        lines.payment_fee_minor,
        lines.tax_minor,
        lines.refunded_minor,
        orders.gross_minor as order_gross_minor,
        orders.discount_minor as order_discount_minor,
        -- No order-level refund figure: the attendees' refunds are the order's.
        cast(null as bigint) as order_refunded_minor,
        orders.ordered_at,
        greatest(orders.updated_at, lines.updated_at) as updated_at,
        orders.purchaser_name,
        orders.purchaser_email,
        'online' as sales_channel,
        orders.promo_code,
        greatest(orders.ingested_via, lines.ingested_via) as ingested_via
    from eb_attendee_lines as lines
    inner join eb_orders as orders
        on lines.account_id = orders.account_id
        and lines.order_id = orders.order_id

),

unioned as (

    select * from hx_order_lines
    union all
    select * from eb_order_lines

),

orders as (

    -- Order-level figures: what the order reports beyond the sum of its lines, and its status.
    select
        {{ order_key }},
        count(*) as line_count,
        sum(gross_minor) as lines_gross_minor,
        max(order_gross_minor) - sum(gross_minor) as gross_residual_minor,
        max(order_discount_minor) - sum(discount_minor) as discount_residual_minor,
        coalesce(max(order_refunded_minor), sum(refunded_minor)) - sum(refunded_minor)
            as refunded_residual_minor,
        sum(refunded_minor) as lines_refunded_minor,
        coalesce(max(order_refunded_minor), sum(refunded_minor)) as order_refunded_minor,
        sum(quantity) as order_quantity,
        sum(quantity_refunded) as order_quantity_refunded,
        max(order_state) as order_state,
        max(financial_status) as financial_status
    from unioned
    group by {{ order_key }}

),

orders_with_status as (

    select
        *,
        case
            when order_state = 'pending' then 'pending'
            when order_state = 'cancelled' then 'cancelled'
            when order_state = 'refunded' then 'refunded'
            -- Every admission void: refunded if money went back, else cancelled.
            when order_quantity > 0 and order_quantity_refunded >= order_quantity then
                case
                    when financial_status = 'refunded' or order_refunded_minor > 0
                        then 'refunded'
                    else 'cancelled'
                end
            -- Some money went back. Admissions cancelled without a refund (free tickets) leave
            -- the order completed, as the platforms' own statuses do.
            when order_refunded_minor > 0 then 'partially_refunded'
            when financial_status in ('refunded', 'partially_refunded')
                then 'partially_refunded'
            else 'completed'
        end as order_status
    from orders

),

lines_with_orders as (

    select
        lines.*,
        orders.order_status,
        orders.line_count,
        orders.lines_gross_minor,
        orders.lines_refunded_minor,
        orders.gross_residual_minor,
        orders.discount_residual_minor,
        orders.refunded_residual_minor
    from unioned as lines
    inner join orders_with_status as orders
        on lines.platform = orders.platform
        and lines.account_id = orders.account_id
        and lines.order_id = orders.order_id

),

to_allocate as (

    select * from lines_with_orders
    where gross_residual_minor <> 0
        or discount_residual_minor <> 0
        or refunded_residual_minor <> 0

),

allocation_floors as (

    select
        *,
        {{ allocation_floor('gross', 'gross_residual_minor', 'gross_minor', 'lines_gross_minor', 'line_count') }},
        {{ allocation_floor('discount', 'discount_residual_minor', 'gross_minor', 'lines_gross_minor', 'line_count') }},
        {{ allocation_floor('refunded', 'refunded_residual_minor', 'refunded_minor', 'lines_refunded_minor', 'line_count') }}
    from to_allocate

),

allocated as (

    select
        {%- for amount in allocated_amounts %}
        {{ amount }}_minor
            + {{ allocation_share(amount, amount ~ '_residual_minor', order_key, 'ticket_type_id') }}
            as line_{{ amount }}_minor,
        {%- endfor %}
        *
    from allocation_floors

),

settled as (

    -- Orders whose lines already add up: nothing to allocate.
    select
        {%- for amount in allocated_amounts %}
        {{ amount }}_minor as line_{{ amount }}_minor,
        {%- endfor %}
        *
    from lines_with_orders
    where gross_residual_minor = 0
        and discount_residual_minor = 0
        and refunded_residual_minor = 0

),

all_lines as (

    {%- set columns = [
        'platform', 'account_id', 'event_id', 'session_id', 'order_id', 'ticket_type_id',
        'ticket_type_name', 'order_status', 'quantity', 'quantity_refunded', 'currency',
        'line_gross_minor', 'line_discount_minor', 'platform_fee_minor', 'payment_fee_minor',
        'tax_minor', 'line_refunded_minor', 'ordered_at', 'updated_at', 'purchaser_name',
        'purchaser_email', 'sales_channel', 'promo_code', 'ingested_via'
    ] %}
    select {{ columns | join(', ') }} from allocated
    union all
    select {{ columns | join(', ') }} from settled

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
        lines.ingested_via,

        ----------  numerics
        lines.quantity,
        lines.quantity_refunded,
        {{ minor_to_major('lines.line_gross_minor', 'lines.currency', 'lines.unit_size') }} as gross_amount,
        {{ minor_to_major('lines.line_discount_minor', 'lines.currency', 'lines.unit_size') }} as discount_amount,
        {{ minor_to_major('lines.platform_fee_minor', 'lines.currency', 'lines.unit_size') }} as platform_fee_amount,
        {{ minor_to_major('lines.payment_fee_minor', 'lines.currency', 'lines.unit_size') }} as payment_fee_amount,
        {{ minor_to_major('lines.tax_minor', 'lines.currency', 'lines.unit_size') }} as tax_amount,
        {{ minor_to_major(
            'lines.line_gross_minor - lines.line_refunded_minor'
            ~ ' - lines.platform_fee_minor - lines.payment_fee_minor',
            'lines.currency',
            'lines.unit_size'
        ) }} as net_amount,
        {{ minor_to_major('lines.line_refunded_minor', 'lines.currency', 'lines.unit_size') }} as refunded_amount,

        ----------  timestamps
        lines.ordered_at,
        lines.updated_at,
        coalesce(sync_watermarks.last_loaded_at, current_timestamp) as loaded_at

    from (
        select *, {{ minor_unit_size('currency') }} as unit_size from all_lines
    ) as lines
    left join sessions
        on lines.platform = sessions.platform
        and lines.account_id = sessions.account_id
        and lines.session_id = sessions.session_id
    left join sync_watermarks
        on lines.platform = sync_watermarks.platform
        and lines.account_id = sync_watermarks.account_id

)

select * from final
