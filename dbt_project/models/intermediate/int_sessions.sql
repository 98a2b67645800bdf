-- One row per session of either platform: a Humanitix event date, or an Eventbrite single event
-- or series occurrence (series parents only group occurrences and are not sessions).
-- Event-level attributes (name, venue, prices, capacity) are resolved here once, so the marts
-- only add sales figures.
with

hx_events as (

    select * from {{ ref('stg_humanitix__events') }}

),

hx_dates as (

    select * from {{ ref('stg_humanitix__event_dates') }}

),

hx_prices as (

    -- Listed prices of ticket types still on offer (donations have no fixed price).
    select
        account_id,
        event_id,
        min(price) as min_price,
        max(price) as max_price
    from {{ ref('stg_humanitix__ticket_types') }}
    where not is_deleted and not is_disabled and not is_donation
    group by account_id, event_id

),

hx_sessions as (

    select
        'humanitix' as platform,
        dates.account_id,
        dates.event_id,
        dates.event_date_id as session_id,
        events.event_name,
        events.event_name
            || ' (' || {{ local_datetime_label('dates.starts_at', 'events.timezone') }} || ')'
            as session_name,
        case
            when dates.is_deleted or dates.is_disabled then 'cancelled'
            when not events.is_published then 'draft'
            when dates.ends_at < current_timestamp then 'ended'
            when dates.starts_at <= current_timestamp then 'started'
            else 'live'
        end as status,
        events.is_published and not dates.is_deleted and not dates.is_disabled as is_published,
        dates.starts_at,
        dates.ends_at,
        events.timezone,
        events.venue_name,
        events.venue_address,
        events.city,
        events.country,
        events.is_online,
        -- Humanitix capacities apply to each date of the event.
        events.total_capacity as capacity,
        events.is_marked_sold_out as is_marked_sold_out,
        -- No sales status in Humanitix's API: only what its two flags say for certain.
        case
            when events.is_marked_sold_out then 'sold_out'
            when events.is_sales_suspended then 'unavailable'
        end as sales_status,
        events.currency,
        coalesce(hx_prices.min_price, events.minimum_price) as min_price,
        coalesce(hx_prices.max_price, events.maximum_price) as max_price,
        events.event_url as ticket_url,
        cast(null as {{ text_type() }}) as image_url,
        greatest(events.updated_at, dates.updated_at) as updated_at
    from hx_dates as dates
    inner join hx_events as events
        on dates.account_id = events.account_id
        and dates.event_id = events.event_id
    left join hx_prices
        on dates.account_id = hx_prices.account_id
        and dates.event_id = hx_prices.event_id

),

eb_events as (

    select * from {{ ref('stg_eventbrite__events') }}

),

eb_venues as (

    select * from {{ ref('stg_eventbrite__venues') }}

),

eb_classes as (

    select
        account_id,
        event_id,
        min(case when not is_hidden and not is_donation then cost end) as min_price,
        max(case when not is_hidden and not is_donation then cost end) as max_price,
        sum(quantity_total) as quantity_total,
        bool_and(on_sale_status = 'sold_out') as is_every_class_sold_out
    from {{ ref('stg_eventbrite__ticket_classes') }}
    group by account_id, event_id

),

eb_sessions as (

    select
        'eventbrite' as platform,
        events.account_id,
        -- A series occurrence belongs to its series (the parent event); a single event is its
        -- own event and session.
        coalesce(
            case when events.is_series then events.series_id end, events.event_id
        ) as event_id,
        events.event_id as session_id,
        coalesce(parents.event_name, events.event_name) as event_name,
        events.event_name
            || ' (' || {{ local_datetime_label('events.starts_at', 'events.timezone') }} || ')'
            as session_name,
        events.event_status as status,
        events.is_published,
        events.starts_at,
        events.ends_at,
        events.timezone,
        venues.venue_name,
        venues.venue_address,
        venues.city,
        venues.country,
        events.is_online,
        coalesce(events.capacity, eb_classes.quantity_total) as capacity,
        coalesce(
            events.sales_status = 'sold_out' or eb_classes.is_every_class_sold_out, false
        ) as is_marked_sold_out,
        -- event_sales_status.sales_status (expand=event_sales_status), lower-cased.
        events.sales_status,
        events.currency,
        eb_classes.min_price,
        eb_classes.max_price,
        events.event_url as ticket_url,
        events.image_url,
        events.updated_at
    from eb_events as events
    left join eb_events as parents
        on events.account_id = parents.account_id
        and events.series_id = parents.event_id
        and parents.is_series_parent
        and not events.is_series_parent
    left join eb_venues as venues
        on events.account_id = venues.account_id
        and events.venue_id = venues.venue_id
    left join eb_classes
        on events.account_id = eb_classes.account_id
        and events.event_id = eb_classes.event_id
    where not events.is_series_parent

),

unioned as (

    select * from hx_sessions
    union all
    select * from eb_sessions

),

final as (

    select
        {{ hash_key(['platform', 'account_id', 'session_id']) }} as session_key,
        *
    from unioned

)

select * from final
