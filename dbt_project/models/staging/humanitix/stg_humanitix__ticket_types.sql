-- One row per Humanitix ticket type (an event's ticketTypes[]); Humanitix reports no sold count.
with

source as (

    select * from {{ source_or_empty('raw_humanitix', 'ticket_types') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        ticket_type_id,
        event_id,

        ----------  strings
        name as ticket_type_name,
        description as ticket_type_description,

        ----------  numerics
        {{ cast_money('price') }} as price,
        -- How many of this type may be sold (per session for multi-date events).
        quantity,

        ----------  booleans
        coalesce(is_disabled, false) as is_disabled,
        coalesce(is_deleted, false) as is_deleted,
        coalesce(is_donation, false) as is_donation,

        ----------  timestamps
        event_updated_at as updated_at

    from source

)

select * from renamed
