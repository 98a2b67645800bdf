-- Daily sales per platform/account/event/session/currency for the dashboard. The day is the
-- order's calendar date in the event's time zone (what a promoter calls "sold on Friday").
with

sales as (

    select * from {{ ref('ticket_sales') }}

),

sessions as (

    select platform, account_id, session_id, timezone from {{ ref('int_sessions') }}

),

dated as (

    select
        sales.*,
        {{ local_date('sales.ordered_at', 'sessions.timezone') }} as sales_date
    from sales
    left join sessions
        on sales.platform = sessions.platform
        and sales.account_id = sessions.account_id
        and sales.session_id = sessions.session_id
    where sales.order_status <> 'pending'

),

aggregated as (

    select
        sales_date,
        platform,
        account_id,
        event_id,
        session_id,
        currency,
        count(distinct order_id) as orders_count,
        sum(quantity) as tickets_ordered,
        sum(quantity_refunded) as tickets_refunded,
        sum(quantity - quantity_refunded) as tickets_sold,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(platform_fee_amount) as platform_fee_amount,
        sum(payment_fee_amount) as payment_fee_amount,
        sum(tax_amount) as tax_amount,
        sum(refunded_amount) as refunded_amount,
        sum(net_amount) as net_amount
    from dated
    group by sales_date, platform, account_id, event_id, session_id, currency

),

final as (

    select
        cast(
            {{ hash_key(['sales_date', 'platform', 'account_id', 'session_id', 'currency']) }}
            as {{ text_type() }}
        ) as daily_sales_key,
        cast(sales_date as date) as sales_date,
        cast(platform as {{ text_type() }}) as platform,
        cast(account_id as {{ text_type() }}) as account_id,
        cast(event_id as {{ text_type() }}) as event_id,
        cast(session_id as {{ text_type() }}) as session_id,
        cast(currency as {{ text_type() }}) as currency,
        cast(orders_count as bigint) as orders_count,
        cast(tickets_ordered as bigint) as tickets_ordered,
        cast(tickets_refunded as bigint) as tickets_refunded,
        cast(tickets_sold as bigint) as tickets_sold,
        {{ cast_money('gross_amount') }} as gross_amount,
        {{ cast_money('discount_amount') }} as discount_amount,
        {{ cast_money('platform_fee_amount') }} as platform_fee_amount,
        {{ cast_money('payment_fee_amount') }} as payment_fee_amount,
        {{ cast_money('tax_amount') }} as tax_amount,
        {{ cast_money('refunded_amount') }} as refunded_amount,
        {{ cast_money('net_amount') }} as net_amount
    from aggregated

)

select * from final
