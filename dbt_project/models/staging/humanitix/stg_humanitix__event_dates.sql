-- One row per Humanitix event date: a session. Its id is the eventDateId on orders and tickets.
with

source as (

    select * from {{ source_or_empty('raw_humanitix', 'event_dates') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        event_date_id,
        event_id,
        schedule_id,

        ----------  booleans
        coalesce(is_disabled, false) as is_disabled,
        coalesce(is_deleted, false) as is_deleted,

        ----------  timestamps
        start_date as starts_at,
        end_date as ends_at,
        event_updated_at as updated_at

    from source

)

select * from renamed
