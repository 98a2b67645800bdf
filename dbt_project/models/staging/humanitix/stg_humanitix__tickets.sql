-- One row per Humanitix ticket (an admission), with its money in decimal major units.
--
-- The sale figures (*_amount) come from the ticket's totalsV2 (typed as totals_v2_* at load):
-- a cancelled ticket reports 0 in every legacy money field (price, total, fee, ...), and only
-- totalsV2 keeps what it sold for (grossSales) and what was paid back (refunds). Rows loaded
-- before those columns existed (all null) fall back to the legacy fields, where a cancelled
-- ticket kept its amounts.
{% set has_v2 = '(totals_v2_gross_sales is not null)' %}
{% set is_cancelled -%}
    (coalesce(lower(status) in ('cancelled', 'canceled'), false) or cancelled_at is not null)
{%- endset %}
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

        ----------  sale figures of the ticket (see the header): totalsV2, else legacy fields
        -- gross: what the buyer paid at purchase (after discount, tax and passed-on fees
        -- included), a cancelled ticket's too.
        {{ cast_money(
            'case when ' ~ has_v2 ~ ' then totals_v2_gross_sales else coalesce(total, 0) end'
        ) }} as gross_amount,
        -- refunded: what was paid back (legacy: the whole total of a cancelled ticket).
        {{ cast_money(
            'case when ' ~ has_v2 ~ ' then coalesce(totals_v2_refunds, 0)'
            ~ ' when ' ~ is_cancelled ~ ' then coalesce(total, 0) else 0 end'
        ) }} as refunded_amount,
        {{ cast_money(
            'case when ' ~ has_v2 ~ ' then coalesce(totals_v2_discount, 0)'
            ~ ' else coalesce(discount, 0) end'
        ) }} as discount_amount,
        -- tax included in the ticket's price (subTotal.tax; legacy `taxes`).
        {{ cast_money(
            'case when ' ~ has_v2 ~ ' then coalesce(totals_v2_sub_total_tax, 0)'
            ~ ' else coalesce(taxes, 0) end'
        ) }} as tax_amount,
        -- Humanitix's booking fee, passed on + absorbed (fees.humanitixFee.totalFee.total).
        {{ cast_money(
            'case when ' ~ has_v2 ~ ' then coalesce(totals_v2_humanitix_fee, 0)'
            ~ ' else coalesce(fee, 0) end'
        ) }} as platform_fee_amount,
        -- Card processing (fees.paymentFee.totalFee.total); legacy tickets have none apart.
        {{ cast_money(
            'case when ' ~ has_v2 ~ ' then coalesce(totals_v2_payment_fee, 0) else 0 end'
        ) }} as payment_fee_amount,

        ----------  packages: package_price is the whole package's, repeated on each of its
        ----------  tickets (never sum it over tickets)
        package_id,
        package_name,
        package_group_id,
        {{ cast_money('package_price') }} as package_price,
        location,

        ----------  booleans
        {{ has_v2 }} as has_totals_v2,
        coalesce(is_donation, false) as is_donation,
        coalesce(is_checked_in, false) as is_checked_in,
        {{ is_cancelled }} as is_cancelled,

        ----------  timestamps
        cancelled_at,
        created_at,
        updated_at

    from source

)

select * from renamed
