-- One row per Eventbrite venue of the account's events.
with

source as (

    select * from {{ source_or_empty('raw_eventbrite', 'venues') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        venue_id,

        ----------  strings
        name as venue_name,
        address_1,
        address_2,
        coalesce(
            address_display,
            nullif(concat_ws(', ', address_1, address_2, city, region, postal_code), '')
        ) as venue_address,
        city,
        region,
        postal_code,
        country,
        latitude,
        longitude,
        age_restriction,

        ----------  numerics
        capacity

    from source

)

select * from renamed
