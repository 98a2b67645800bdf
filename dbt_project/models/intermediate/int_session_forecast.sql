-- Sell-out forecast per session: when will the session's remaining tickets be gone at its
-- recent rate of sales? (method: int_session_forecast.yml and the README's "Sell-out forecast")
--
-- The rate is a recency-weighted average of the tickets sold per day over the last 7 days
-- before the as-of time: the days are 24-hour periods counted back from the as-of time (no
-- time zone involved), the latest weighing 7, the one before 6, ... the 7th 1. A session on
-- sale for fewer than 7 days averages over its own days only (n days weigh n .. 1), so a new
-- session is not diluted by days it could not sell. The projection is the as-of time plus
-- remaining tickets / rate.
--
-- "As of" is the build time; the var `forecast_as_of` (an ISO timestamp with offset) replaces
-- it, for a warehouse whose data has its own clock (the sandbox) and for the backtest
-- (benchmarks/forecast_backtest.py), which runs this very SQL at cuts in the past. Only sales
-- up to the as-of time count, and the remaining tickets are counted at that time too.
{%- set forecast_window_days = 7 -%}
{%- set as_of_var = var('forecast_as_of', none) -%}
{%- if as_of_var -%}
    {%- if not modules.re.fullmatch(
        '\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?([+-]\\d{2}(:?\\d{2})?|Z)',
        as_of_var | string
    ) -%}
        {{ exceptions.raise_compiler_error(
            "var forecast_as_of must be an ISO timestamp with an offset, e.g. "
            ~ "2025-06-30T12:00:00+00:00; got " ~ as_of_var) }}
    {%- endif -%}
    {%- set as_of = "cast('" ~ as_of_var ~ "' as " ~ timestamp_tz_type() ~ ")" -%}
{%- else -%}
    {%- set as_of = "current_timestamp" -%}
{%- endif %}
with

sessions as (

    select
        platform,
        account_id,
        session_id,
        status,
        starts_at,
        capacity,
        is_marked_sold_out
    from {{ ref('int_sessions') }}

),

sales as (

    select platform, account_id, session_id, order_status, quantity, quantity_refunded, ordered_at
    from {{ ref('ticket_sales') }}

),

as_of as (

    select
        {{ as_of }} as forecast_as_of,
        extract(epoch from {{ as_of }}) as as_of_epoch

),

-- Sold tickets up to the as-of time, with the 24-hour period they fell in (0 = the last 24 h).
-- Pending orders are not sales; refunded admissions are not sold (as in session_complete).
sold as (

    select
        sales.platform,
        sales.account_id,
        sales.session_id,
        sales.quantity - sales.quantity_refunded as tickets,
        floor(
            (as_of.as_of_epoch - extract(epoch from sales.ordered_at)) / 86400.0
        ) as days_ago
    from sales
    cross join as_of
    where sales.order_status <> 'pending'
        and sales.ordered_at <= as_of.forecast_as_of

),

per_session as (

    -- The days averaged: the window, or fewer when the first sale is more recent.
    select
        platform,
        account_id,
        session_id,
        sum(tickets) as tickets_sold_to_date,
        least({{ forecast_window_days }}, max(days_ago) + 1) as window_days
    from sold
    group by platform, account_id, session_id

),

rated as (

    -- Day k (0 = latest) weighs window_days - k; the weights sum to n (n + 1) / 2.
    select
        per_session.platform,
        per_session.account_id,
        per_session.session_id,
        per_session.tickets_sold_to_date,
        sum(
            case
                when sold.days_ago < per_session.window_days
                    then sold.tickets * (per_session.window_days - sold.days_ago)
                else 0
            end
        ) * 2.0
        / (per_session.window_days * (per_session.window_days + 1)) as sales_rate_per_day
    from per_session
    inner join sold
        on per_session.platform = sold.platform
        and per_session.account_id = sold.account_id
        and per_session.session_id = sold.session_id
    group by
        per_session.platform,
        per_session.account_id,
        per_session.session_id,
        per_session.tickets_sold_to_date,
        per_session.window_days

),

joined as (

    select
        sessions.platform,
        sessions.account_id,
        sessions.session_id,
        sessions.starts_at,
        sessions.status,
        sessions.capacity,
        sessions.is_marked_sold_out,
        coalesce(rated.tickets_sold_to_date, 0) as tickets_sold_to_date,
        rated.sales_rate_per_day,
        as_of.forecast_as_of,
        as_of.as_of_epoch
    from sessions
    cross join as_of
    left join rated
        on sessions.platform = rated.platform
        and sessions.account_id = rated.account_id
        and sessions.session_id = rated.session_id

),

projected as (

    select
        *,
        case
            when capacity is not null and sales_rate_per_day > 0
                and capacity > tickets_sold_to_date
                then to_timestamp(
                    as_of_epoch
                    + (capacity - tickets_sold_to_date) / sales_rate_per_day * 86400.0
                )
        end as projection
    from joined

),

final as (

    select
        cast(platform as {{ text_type() }}) as platform,
        cast(account_id as {{ text_type() }}) as account_id,
        cast(session_id as {{ text_type() }}) as session_id,
        cast(forecast_as_of as {{ timestamp_tz_type() }}) as forecast_as_of,
        cast(tickets_sold_to_date as bigint) as tickets_sold_to_date,
        cast(
            case when capacity is not null then greatest(capacity - tickets_sold_to_date, 0) end
            as bigint
        ) as tickets_remaining_at_forecast,
        cast(round(coalesce(sales_rate_per_day, 0), 4) as numeric(18,4)) as sales_rate_per_day,
        cast(
            case when forecast_status = 'projected' then projection end
            as {{ timestamp_tz_type() }}
        ) as projected_sell_out_at,
        -- The projection even when it falls after the start (the backtest scores it).
        cast(projection as {{ timestamp_tz_type() }}) as unbounded_sell_out_at,
        cast(forecast_status as {{ text_type() }}) as forecast_status,
        cast('weighted_{{ forecast_window_days }}d_rate' as {{ text_type() }}) as forecast_method
    from (
        select
            *,
            case
                when status = 'cancelled' then 'ended'
                when starts_at is not null and starts_at <= forecast_as_of then 'ended'
                when capacity is null then 'no_capacity'
                when is_marked_sold_out or tickets_sold_to_date >= capacity then 'sold_out'
                when coalesce(sales_rate_per_day, 0) <= 0 then 'no_recent_sales'
                when starts_at is not null and projection > starts_at then 'not_before_start'
                else 'projected'
            end as forecast_status
        from projected
    ) as classified

)

select * from final
