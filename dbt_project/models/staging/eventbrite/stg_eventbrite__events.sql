-- One row per Eventbrite event. Series occurrences are events of their own; a series parent
-- only groups them (is_series_parent) and is not a session.
with

source as (

    select * from {{ source_or_empty('raw_eventbrite', 'events') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        event_id,
        organization_id,
        series_id,
        venue_id,

        ----------  strings
        name as event_name,
        summary as event_summary,
        description as event_description,
        url as event_url,
        logo_url as image_url,
        timezone,
        {{ normalize_currency('currency') }} as currency,
        status as event_status_raw,
        -- draft | live | started | ended | cancelled; unknown values read as "live".
        case lower(status)
            when 'draft' then 'draft'
            when 'live' then 'live'
            when 'started' then 'started'
            when 'ended' then 'ended'
            when 'completed' then 'ended'
            when 'canceled' then 'cancelled'
            when 'cancelled' then 'cancelled'
            when 'deleted' then 'cancelled'
            else 'live'
        end as event_status,
        lower(sales_status) as sales_status,

        ----------  numerics
        capacity,

        ----------  booleans
        coalesce(is_listed, false) as is_listed,
        coalesce(is_online_event, false) as is_online,
        coalesce(is_free, false) as is_free,
        coalesce(is_series, false) as is_series,
        coalesce(is_series_parent, false) as is_series_parent,
        (published is not null and coalesce(lower(status), '') <> 'draft') as is_published,

        ----------  timestamps
        start_utc as starts_at,
        end_utc as ends_at,
        start_local as starts_at_local,
        end_local as ends_at_local,
        published as published_at,
        created as created_at,
        changed as updated_at

    from source

)

select * from renamed
