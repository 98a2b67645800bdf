{#
  Eventbrite order lines, (account_id, order_id, ticket_class_id), before any allocation, in
  the columns int_order_lines unions (its `line_columns`): it unions them with Humanitix's and
  splits the order's discount (Eventbrite reports it per order only) over them.

  Lines come from the attendees of orders that exist in the store, summed in the integer minor
  units Eventbrite sends. Deleted orders are left out.
#}
with

orders as (

    select * from {{ ref('stg_eventbrite__orders') }}
    -- Deleted orders never happened as far as sales go (Eventbrite's reports drop them too).
    where order_state <> 'deleted'

),

attendees as (

    select * from {{ ref('stg_eventbrite__attendees') }}

),

attendee_lines as (

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
    from attendees
    group by account_id, order_id, ticket_class_id

),

final as (

    select
        'eventbrite' as platform,
        orders.account_id,
        orders.event_id,
        orders.event_id as session_id,
        orders.order_id,
        lines.ticket_class_id as ticket_type_id,
        lines.ticket_class_name as ticket_type_name,
        orders.order_state,
        -- No financial status on Eventbrite: the money of void attendees tells (int_order_lines).
        cast(null as {{ text_type() }}) as financial_status,
        lines.quantity,
        lines.quantity_refunded,
        orders.currency,
        lines.gross_minor,
        -- Eventbrite reports discounts per order only: int_order_lines allocates them.
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
    from attendee_lines as lines
    inner join orders
        on lines.account_id = orders.account_id
        and lines.order_id = orders.order_id

)

select * from final
