-- One row per Eventbrite order. Money stays in integer minor units here (`*_minor`) so that
-- order-level amounts can be split over lines exactly; int_order_lines converts to major units.
with

source as (

    select * from {{ source_or_empty('raw_eventbrite', 'orders') }}

),

renamed as (

    select
        ----------  ids
        account_id,
        order_id,
        event_id,

        ----------  strings
        {{ normalize_currency('currency') }} as currency,
        status as order_status_raw,
        -- Eventbrite confirms only "placed"; the rest are observed values (see docs/platforms.md).
        case lower(status)
            when 'placed' then 'completed'
            when 'refunded' then 'refunded'
            when 'cancelled' then 'cancelled'
            when 'canceled' then 'cancelled'
            when 'deleted' then 'deleted'
            -- started, pending, reserved and anything unknown: not a confirmed sale.
            else 'pending'
        end as order_state,
        coalesce(
            nullif(trim(name), ''),
            nullif(trim(concat(coalesce(first_name, ''), ' ', coalesce(last_name, ''))), '')
        ) as purchaser_name,
        lower(email) as purchaser_email,
        promo_code,
        -- api (scheduled sync) | webhook; rows loaded before the column existed came by API.
        coalesce(ingested_via, 'api') as ingested_via,

        ----------  numerics: integer minor units of `currency`
        coalesce(costs_gross, 0) as gross_minor,
        coalesce(costs_base_price, 0) as base_price_minor,
        coalesce(costs_eventbrite_fee, 0) as eventbrite_fee_minor,
        coalesce(costs_payment_fee, 0) as payment_fee_minor,
        coalesce(costs_tax, 0) as tax_minor,
        -- No public capture shows an order's discount: read both plausible places (the
        -- order's discount_amount, or inside its costs).
        coalesce(discount_amount, costs_discount_amount, 0) as discount_minor,

        ----------  timestamps
        created as ordered_at,
        changed as updated_at

    from source

)

select * from renamed
