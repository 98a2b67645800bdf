-- One row per Humanitix event. An event groups sessions (its dates); see stg_humanitix__event_dates.
with

source as (

    select * from {{ source_or_empty('raw_humanitix', 'events') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        event_id,
        organiser_id,

        ----------  strings
        name as event_name,
        description as event_description,
        slug as event_slug,
        url as event_url,
        timezone,
        {{ normalize_currency('currency') }} as currency,
        location_type as location_type_raw,
        case lower(location_type)
            when 'address' then 'address'
            when 'online' then 'online'
            when 'custom' then 'custom'
            when 'tobeannounced' then 'to_be_announced'
            -- A type Humanitix adds later is kept in location_type_raw, shown as "custom".
            else 'custom'
        end as location_type,
        venue_name,
        address as venue_address,
        -- Real events name their place only in eventLocation.addressComponents (addressParts).
        coalesce(city, address_city) as city,
        coalesce(region, address_region) as region,
        upper(coalesce(country, address_country)) as country,
        postal_code,
        online_url,

        ----------  numerics
        total_capacity,
        {{ cast_money('minimum_price') }} as minimum_price,
        {{ cast_money('maximum_price') }} as maximum_price,

        ----------  booleans
        coalesce(is_public, false) as is_public,
        coalesce(is_published, false) as is_published,
        coalesce(suspend_sales, false) as is_sales_suspended,
        coalesce(marked_as_sold_out, false) as is_marked_sold_out,
        coalesce(lower(location_type) = 'online', false) as is_online,

        ----------  timestamps
        start_date as starts_at,
        end_date as ends_at,
        published_at,
        created_at,
        updated_at

    from source

)

select * from renamed
