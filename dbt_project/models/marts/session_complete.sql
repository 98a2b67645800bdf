-- One row per session with its sales: the public "Gigs" calendar reads this table, so its
-- columns are a contract (session_complete.yml): changing them must fail the build.
with

sessions as (

    select * from {{ ref('int_sessions') }}

),

sales as (

    select * from {{ ref('ticket_sales') }}

),

forecast as (

    select * from {{ ref('int_session_forecast') }}

),

session_sales as (

    -- Pending orders are not sales yet; refunded/cancelled admissions are not sold tickets.
    select
        platform,
        account_id,
        session_id,
        currency,
        sum(case when order_status <> 'pending' then quantity - quantity_refunded else 0 end)
            as tickets_sold,
        sum(case when order_status <> 'pending' then gross_amount else 0 end) as gross_sales,
        sum(case when order_status <> 'pending' then net_amount else 0 end) as net_sales,
        max(ordered_at) as last_order_at,
        max(updated_at) as sales_updated_at
    from sales
    group by platform, account_id, session_id, currency

),

joined as (

    select
        sessions.*,
        coalesce(session_sales.tickets_sold, 0) as tickets_sold,
        coalesce(session_sales.gross_sales, 0) as gross_sales,
        coalesce(session_sales.net_sales, 0) as net_sales,
        session_sales.last_order_at,
        session_sales.sales_updated_at,
        forecast.sales_rate_per_day,
        forecast.projected_sell_out_at,
        forecast.forecast_status
    from sessions
    -- Sales in another currency than the session's are caught by a test, never added here.
    left join session_sales
        on sessions.platform = session_sales.platform
        and sessions.account_id = session_sales.account_id
        and sessions.session_id = session_sales.session_id
        and sessions.currency = session_sales.currency
    left join forecast
        on sessions.platform = forecast.platform
        and sessions.account_id = forecast.account_id
        and sessions.session_id = forecast.session_id

),

final as (

    select
        ----------  ids
        cast(session_key as {{ text_type() }}) as session_key,
        cast(platform as {{ text_type() }}) as platform,
        cast(account_id as {{ text_type() }}) as account_id,
        cast(event_id as {{ text_type() }}) as event_id,
        cast(session_id as {{ text_type() }}) as session_id,

        ----------  strings
        cast(event_name as {{ text_type() }}) as event_name,
        cast(session_name as {{ text_type() }}) as session_name,
        cast(status as {{ text_type() }}) as status,
        cast(is_published as boolean) as is_published,
        cast(starts_at as {{ timestamp_tz_type() }}) as starts_at,
        cast(ends_at as {{ timestamp_tz_type() }}) as ends_at,
        cast(timezone as {{ text_type() }}) as timezone,
        cast(venue_name as {{ text_type() }}) as venue_name,
        cast(venue_address as {{ text_type() }}) as venue_address,
        cast(city as {{ text_type() }}) as city,
        cast(country as {{ text_type() }}) as country,
        cast(is_online as boolean) as is_online,

        ----------  numerics
        cast(capacity as bigint) as capacity,
        cast(tickets_sold as bigint) as tickets_sold,
        cast(
            case when capacity is not null then greatest(capacity - tickets_sold, 0) end
            as bigint
        ) as tickets_remaining,
        cast(
            is_marked_sold_out or coalesce(capacity is not null and tickets_sold >= capacity, false)
            as boolean
        ) as is_sold_out,
        cast(sales_status as {{ text_type() }}) as sales_status,
        cast(currency as {{ text_type() }}) as currency,
        {{ cast_money('min_price') }} as min_price,
        {{ cast_money('max_price') }} as max_price,
        {{ cast_money('gross_sales') }} as gross_sales,
        {{ cast_money('net_sales') }} as net_sales,

        ----------  links
        cast(ticket_url as {{ text_type() }}) as ticket_url,
        cast(image_url as {{ text_type() }}) as image_url,

        ----------  timestamps
        cast(last_order_at as {{ timestamp_tz_type() }}) as last_order_at,
        cast(greatest(updated_at, sales_updated_at) as {{ timestamp_tz_type() }}) as updated_at,

        ----------  sell-out forecast (int_session_forecast)
        cast(coalesce(sales_rate_per_day, 0) as numeric(18,4)) as sales_rate_per_day,
        cast(projected_sell_out_at as {{ timestamp_tz_type() }}) as projected_sell_out_at,
        cast(forecast_status as {{ text_type() }}) as forecast_status

    from joined

)

select * from final
