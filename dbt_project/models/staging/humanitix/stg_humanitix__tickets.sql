-- One row per Humanitix ticket (an admission), with its money in decimal major units.
with

source as (

    select * from {{ source_or_empty('raw_humanitix', 'tickets') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        ticket_id,
        event_id,
        event_date_id,
        order_id,
        ticket_type_id,

        ----------  strings
        ticket_type_name,
        -- api (scheduled sync) | webhook; rows loaded before the column existed came by API.
        coalesce(ingested_via, 'api') as ingested_via,
        {{ normalize_currency('currency') }} as currency,
        status as ticket_status_raw,
        -- complete | cancelled; an unknown status is kept as a valid admission.
        case
            when lower(status) in ('cancelled', 'canceled') then 'cancelled'
            when cancelled_at is not null then 'cancelled'
            else 'complete'
        end as ticket_status,

        ----------  numerics
        -- price: face value; discount: off the price; net_price = price - discount (tax
        -- included); fee: Humanitix's booking fee, passed_on_fee (paid by the buyer) +
        -- absorbed_fee (paid by the organiser); total = what the buyer paid for the ticket.
        {{ cast_money('coalesce(price, 0)') }} as price,
        {{ cast_money('coalesce(discount, 0)') }} as discount,
        {{ cast_money('coalesce(net_price, 0)') }} as net_price,
        {{ cast_money('coalesce(taxes, 0)') }} as taxes,
        {{ cast_money('coalesce(fee, 0)') }} as fee,
        {{ cast_money('coalesce(passed_on_fee, 0)') }} as passed_on_fee,
        {{ cast_money('coalesce(absorbed_fee, 0)') }} as absorbed_fee,
        {{ cast_money('coalesce(total, 0)') }} as total,

        ----------  booleans
        coalesce(is_donation, false) as is_donation,
        coalesce(is_checked_in, false) as is_checked_in,
        (
            coalesce(lower(status) in ('cancelled', 'canceled'), false)
            or cancelled_at is not null
        ) as is_cancelled,

        ----------  timestamps
        cancelled_at,
        created_at,
        updated_at

    from source

)

select * from renamed
