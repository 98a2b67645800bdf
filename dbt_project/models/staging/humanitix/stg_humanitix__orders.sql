-- One row per Humanitix order, with its current totals (decimal major units of `currency`).
with

source as (

    select * from {{ source_or_empty('raw_humanitix', 'orders') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        order_id,
        event_id,
        event_date_id,

        ----------  strings
        {{ normalize_currency('currency') }} as currency,
        status as order_status_raw,
        -- Humanitix documents only "complete"; anything else is not a confirmed sale.
        case lower(status)
            when 'complete' then 'completed'
            when 'completed' then 'completed'
            when 'cancelled' then 'cancelled'
            when 'canceled' then 'cancelled'
            else 'pending'
        end as order_state,
        financial_status as financial_status_raw,
        case lower(financial_status)
            when 'free' then 'free'
            when 'paid' then 'paid'
            when 'partiallyrefunded' then 'partially_refunded'
            when 'refunded' then 'refunded'
            -- Unknown values: treated as paid; the ticket statuses still decide refunds.
            else 'paid'
        end as financial_status,
        case lower(sales_channel)
            when 'online' then 'online'
            when 'manual' then 'manual'
            when 'boxoffice' then 'box_office'
            when 'swap' then 'swap'
            else coalesce(lower(sales_channel), 'online')
        end as sales_channel,
        nullif(trim(concat(coalesce(first_name, ''), ' ', coalesce(last_name, ''))), '')
            as purchaser_name,
        lower(email) as purchaser_email,
        discount_code as promo_code,
        payment_type,
        -- api (scheduled sync) | webhook; rows loaded before the column existed came by API.
        coalesce(ingested_via, 'api') as ingested_via,

        ----------  numerics (current totals; purchase_totals_* stay in raw)
        {{ cast_money('totals_gross_sales') }} as gross_sales,
        {{ cast_money('totals_discounts') }} as discounts,
        {{ cast_money('totals_refunds') }} as refunds,
        {{ cast_money('totals_net_sales') }} as net_sales,
        {{ cast_money('totals_total') }} as total,
        {{ cast_money('totals_taxes') }} as taxes,
        {{ cast_money('coalesce(totals_humanitix_fee, totals_booking_fee)') }} as humanitix_fee,
        {{ cast_money('totals_passed_on_fee') }} as passed_on_fee,
        {{ cast_money('totals_absorbed_fee') }} as absorbed_fee,
        {{ cast_money('totals_subtotal') }} as subtotal,
        {{ cast_money('auto_discount_amount') }} as auto_discount_amount,
        {{ cast_money('discount_code_amount') }} as discount_code_amount,

        ----------  booleans
        coalesce(is_manual_order, false) as is_manual_order,

        ----------  timestamps
        coalesce(completed_at, created_at) as ordered_at,
        created_at,
        updated_at

    from source

)

select * from renamed
