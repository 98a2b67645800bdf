-- One row per Eventbrite ticket class, with the platform's own quantity_sold counter.
with

source as (

    select * from {{ source_or_empty('raw_eventbrite', 'ticket_classes') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        ticket_class_id,
        event_id,

        ----------  strings
        name as ticket_class_name,
        description as ticket_class_description,
        {{ normalize_currency('currency') }} as currency,
        on_sale_status as on_sale_status_raw,
        -- available | sold_out | not_yet_on_sale | unavailable; unknown reads "unavailable".
        case upper(on_sale_status)
            when 'AVAILABLE' then 'available'
            when 'SOLD_OUT' then 'sold_out'
            when 'NOT_YET_ON_SALE' then 'not_yet_on_sale'
            when 'UNAVAILABLE' then 'unavailable'
            else 'unavailable'
        end as on_sale_status,

        ----------  numerics (face value, and the fees/tax a buyer pays on top of it)
        -- An include_fee class's `cost` already holds the fee (and `fee` reads 0); its face
        -- value and fee are actual_cost / actual_fee (the theodi capture: cost 276.00 =
        -- actual_cost 269.50 + actual_fee 6.50). Other classes: cost and fee as sent.
        {{ minor_to_major(
            'case when coalesce(include_fee, false) and actual_cost is not null'
            ~ ' then actual_cost else cost end',
            'currency'
        ) }} as cost,
        {{ minor_to_major(
            'case when coalesce(include_fee, false) and actual_fee is not null'
            ~ ' then actual_fee else fee end',
            'currency'
        ) }} as fee,
        {{ minor_to_major('tax', 'currency') }} as tax,
        -- What the platform lists as the price (fee included for include_fee classes).
        {{ minor_to_major('cost', 'currency') }} as listed_cost,
        capacity,
        quantity_total,
        -- The platform's count of admissions still valid (refunded/cancelled excluded).
        coalesce(quantity_sold, 0) as quantity_sold,

        ----------  booleans
        coalesce(is_free, false) as is_free,
        coalesce(is_donation, false) as is_donation,
        coalesce(is_hidden, false) as is_hidden,
        coalesce(include_fee, false) as is_fee_included,

        ----------  timestamps
        sales_start as sales_start_at,
        sales_end as sales_end_at

    from source

)

select * from renamed
