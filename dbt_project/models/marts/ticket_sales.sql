-- One row per order line: (platform, account_id, order_id, ticket_type_id). Contracted: see
-- ticket_sales.yml; the amounts' per-platform definitions are in the README.
with

order_lines as (

    select * from {{ ref('int_order_lines') }}

),

final as (

    select
        ----------  ids
        cast(sale_id as {{ text_type() }}) as sale_id,
        cast(platform as {{ text_type() }}) as platform,
        cast(account_id as {{ text_type() }}) as account_id,
        cast(event_id as {{ text_type() }}) as event_id,
        cast(session_id as {{ text_type() }}) as session_id,
        cast(order_id as {{ text_type() }}) as order_id,
        cast(ticket_type_id as {{ text_type() }}) as ticket_type_id,

        ----------  strings
        cast(ticket_type_name as {{ text_type() }}) as ticket_type_name,
        cast(order_status as {{ text_type() }}) as order_status,

        ----------  numerics
        cast(quantity as bigint) as quantity,
        cast(quantity_refunded as bigint) as quantity_refunded,
        cast(currency as {{ text_type() }}) as currency,
        {{ cast_money('gross_amount') }} as gross_amount,
        {{ cast_money('discount_amount') }} as discount_amount,
        {{ cast_money('platform_fee_amount') }} as platform_fee_amount,
        {{ cast_money('payment_fee_amount') }} as payment_fee_amount,
        {{ cast_money('tax_amount') }} as tax_amount,
        {{ cast_money('net_amount') }} as net_amount,
        {{ cast_money('refunded_amount') }} as refunded_amount,

        ----------  timestamps
        cast(ordered_at as {{ timestamp_tz_type() }}) as ordered_at,
        cast(updated_at as {{ timestamp_tz_type() }}) as updated_at,

        ----------  purchaser and provenance
        cast(purchaser_name as {{ text_type() }}) as purchaser_name,
        cast(purchaser_email as {{ text_type() }}) as purchaser_email,
        cast(sales_channel as {{ text_type() }}) as sales_channel,
        cast(promo_code as {{ text_type() }}) as promo_code,
        cast(ingested_via as {{ text_type() }}) as ingested_via,
        cast(loaded_at as {{ timestamp_tz_type() }}) as loaded_at

    from order_lines

)

select * from final
