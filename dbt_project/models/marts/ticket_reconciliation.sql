{#
  One row per session: tickets sold and gross as the platform reports them beside the same
  figures computed from ticket_sales.

  Platform side ("what the platform says"):
    - Eventbrite: tickets = sum of the ticket classes' quantity_sold counters of the session;
      gross = sum of the orders' costs.gross (deleted orders excluded).
    - Humanitix: tickets = tickets with status complete from the tickets endpoint;
      gross = sum of the orders' totals.grossSales.
  Store side: ticket_sales, with the same rules as session_complete (pending orders excluded).

  Status: match (both differences within the tolerance vars) | mismatch | missing_in_store (the
  platform reports sales, the store has none) | missing_on_platform (the store has sales of a
  session the platform does not report).
#}
{%- set ticket_tolerance = var('reconciliation_ticket_tolerance', 0) -%}
{%- set amount_tolerance = var('reconciliation_amount_tolerance', 0) -%}
with

sessions as (

    select platform, account_id, event_id, session_id, currency
    from {{ ref('int_sessions') }}

),

eb_platform_tickets as (

    select
        account_id,
        event_id as session_id,
        sum(quantity_sold) as tickets_sold
    from {{ ref('stg_eventbrite__ticket_classes') }}
    group by account_id, event_id

),

eb_platform_gross as (

    select
        account_id,
        event_id as session_id,
        currency,
        sum({{ minor_to_major('gross_minor', 'currency') }}) as gross_amount
    from {{ ref('stg_eventbrite__orders') }}
    where order_state not in ('deleted', 'pending')
    group by account_id, event_id, currency

),

hx_platform_tickets as (

    select
        account_id,
        event_date_id as session_id,
        sum(case when ticket_status = 'complete' then 1 else 0 end) as tickets_sold
    from {{ ref('stg_humanitix__tickets') }}
    group by account_id, event_date_id

),

hx_platform_gross as (

    select
        account_id,
        event_date_id as session_id,
        currency,
        sum(gross_sales) as gross_amount
    from {{ ref('stg_humanitix__orders') }}
    where order_state <> 'pending'
    group by account_id, event_date_id, currency

),

platform_tickets as (

    select 'eventbrite' as platform, * from eb_platform_tickets
    union all
    select 'humanitix' as platform, * from hx_platform_tickets

),

platform_gross as (

    select 'eventbrite' as platform, * from eb_platform_gross
    union all
    select 'humanitix' as platform, * from hx_platform_gross

),

platform_side as (

    -- Every session the platform knows, with its counters (zero when it reports none).
    select
        sessions.platform,
        sessions.account_id,
        sessions.event_id,
        sessions.session_id,
        sessions.currency,
        coalesce(platform_tickets.tickets_sold, 0) as tickets_sold,
        coalesce(platform_gross.gross_amount, 0) as gross_amount
    from sessions
    left join platform_tickets
        on sessions.platform = platform_tickets.platform
        and sessions.account_id = platform_tickets.account_id
        and sessions.session_id = platform_tickets.session_id
    left join platform_gross
        on sessions.platform = platform_gross.platform
        and sessions.account_id = platform_gross.account_id
        and sessions.session_id = platform_gross.session_id
        and sessions.currency = platform_gross.currency

),

store_side as (

    select
        platform,
        account_id,
        max(event_id) as event_id,
        session_id,
        max(currency) as currency,
        sum(case when order_status <> 'pending' then quantity - quantity_refunded else 0 end)
            as tickets_sold,
        sum(case when order_status <> 'pending' then gross_amount else 0 end) as gross_amount
    from {{ ref('ticket_sales') }}
    group by platform, account_id, session_id

),

compared as (

    select
        coalesce(platform_side.platform, store_side.platform) as platform,
        coalesce(platform_side.account_id, store_side.account_id) as account_id,
        coalesce(platform_side.event_id, store_side.event_id) as event_id,
        coalesce(platform_side.session_id, store_side.session_id) as session_id,
        coalesce(platform_side.currency, store_side.currency) as currency,
        platform_side.session_id is not null as is_on_platform,
        store_side.session_id is not null as is_in_store,
        coalesce(platform_side.tickets_sold, 0) as platform_tickets_sold,
        coalesce(store_side.tickets_sold, 0) as store_tickets_sold,
        coalesce(platform_side.gross_amount, 0) as platform_gross_amount,
        coalesce(store_side.gross_amount, 0) as store_gross_amount
    from platform_side
    full outer join store_side
        on platform_side.platform = store_side.platform
        and platform_side.account_id = store_side.account_id
        and platform_side.session_id = store_side.session_id

),

final as (

    select
        cast(
            {{ hash_key(['platform', 'account_id', 'session_id']) }} as {{ text_type() }}
        ) as reconciliation_key,
        cast(platform as {{ text_type() }}) as platform,
        cast(account_id as {{ text_type() }}) as account_id,
        cast(event_id as {{ text_type() }}) as event_id,
        cast(session_id as {{ text_type() }}) as session_id,
        cast(currency as {{ text_type() }}) as currency,
        cast(platform_tickets_sold as bigint) as platform_tickets_sold,
        cast(store_tickets_sold as bigint) as store_tickets_sold,
        cast(store_tickets_sold - platform_tickets_sold as bigint) as tickets_sold_difference,
        {{ cast_money('platform_gross_amount') }} as platform_gross_amount,
        {{ cast_money('store_gross_amount') }} as store_gross_amount,
        {{ cast_money('store_gross_amount - platform_gross_amount') }} as gross_amount_difference,
        cast(
            case
                when not is_on_platform then 'missing_on_platform'
                when not is_in_store and (platform_tickets_sold > 0 or platform_gross_amount <> 0)
                    then 'missing_in_store'
                when abs(store_tickets_sold - platform_tickets_sold) <= {{ ticket_tolerance }}
                    and abs(store_gross_amount - platform_gross_amount) <= {{ amount_tolerance }}
                    then 'match'
                else 'mismatch'
            end
            as {{ text_type() }}
        ) as status,
        cast(current_timestamp as {{ timestamp_tz_type() }}) as checked_at
    from compared

)

select * from final
