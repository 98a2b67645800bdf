{#
  One row per order line of either platform: (platform, account_id, order_id, ticket_type_id).

  This model's job is the order: it unions the per-platform lines (int_humanitix_order_lines,
  int_eventbrite_order_lines: the admissions of each order summed per ticket type, in integer
  minor units), derives the order's status, and splits what the order reports and its lines do
  not (Eventbrite's order-level discount, any order-level gross or refund the admissions do not
  carry) over the lines by largest remainder, so the lines of an order always add up to the
  order. Then it converts to major units. Definitions of each amount: ticket_sales.yml and the
  README.

  Performance: order-level figures are grouped once and joined back (no window over a million
  lines); the window functions of the allocation only see the few orders that need one.
#}
{%- set order_key = 'platform, account_id, order_id' -%}
{%- set allocated_amounts = ['gross', 'discount', 'refunded'] -%}
{#- The columns every per-platform model provides (documented in their .yml), named so the
    union never depends on their order. -#}
{%- set line_columns = [
    'platform', 'account_id', 'event_id', 'session_id', 'order_id', 'ticket_type_id',
    'ticket_type_name', 'order_state', 'financial_status', 'quantity', 'quantity_refunded',
    'currency', 'gross_minor', 'discount_minor', 'platform_fee_minor', 'payment_fee_minor',
    'tax_minor', 'refunded_minor', 'order_gross_minor', 'order_discount_minor',
    'order_refunded_minor', 'ordered_at', 'updated_at', 'purchaser_name', 'purchaser_email',
    'sales_channel', 'promo_code', 'ingested_via'
] -%}
with

unioned as (

    select {{ line_columns | join(', ') }} from {{ ref('int_humanitix_order_lines') }}
    union all
    select {{ line_columns | join(', ') }} from {{ ref('int_eventbrite_order_lines') }}

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
