-- One row per Eventbrite attendee (an admission). Money in integer minor units (`*_minor`).
with

source as (

    select * from {{ source_or_empty('raw_eventbrite', 'attendees') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        attendee_id,
        event_id,
        order_id,
        ticket_class_id,

        ----------  strings
        ticket_class_name,
        {{ normalize_currency('currency') }} as currency,
        status as attendee_status_raw,
        -- attending | checked_in | not_attending | deleted; unknown values read "attending".
        case lower(status)
            when 'attending' then 'attending'
            when 'checked in' then 'checked_in'
            when 'checked_in' then 'checked_in'
            when 'not attending' then 'not_attending'
            when 'not_attending' then 'not_attending'
            when 'deleted' then 'deleted'
            else 'attending'
        end as attendee_status,
        profile_name as attendee_name,
        lower(profile_email) as attendee_email,
        affiliate as sales_channel_raw,
        -- api (scheduled sync) | webhook; rows loaded before the column existed came by API.
        coalesce(ingested_via, 'api') as ingested_via,

        ----------  numerics
        coalesce(quantity, 1) as quantity,
        coalesce(costs_gross, 0) as gross_minor,
        coalesce(costs_base_price, 0) as base_price_minor,
        coalesce(costs_eventbrite_fee, 0) as eventbrite_fee_minor,
        coalesce(costs_payment_fee, 0) as payment_fee_minor,
        coalesce(costs_tax, 0) as tax_minor,

        ----------  booleans
        coalesce(is_cancelled, false) as is_cancelled,
        coalesce(is_refunded, false) as is_refunded,
        coalesce(is_checked_in, false) as is_checked_in,
        -- No longer a valid admission: refunded, cancelled, not attending or deleted.
        (
            coalesce(is_cancelled, false)
            or coalesce(is_refunded, false)
            or coalesce(lower(status) in ('not attending', 'not_attending', 'deleted'), false)
        ) as is_voided,

        ----------  timestamps
        created as created_at,
        changed as updated_at

    from source

)

select * from renamed
