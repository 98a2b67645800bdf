{#
  Configured accounts with their sync health, for the dashboard and the data team. No secrets:
  only what identifies an account. Configured accounts come from the TICKETING_DBT_ACCOUNTS
  environment variable (JSON; Dagster sets it from the project's accounts); accounts seen in
  the sync log but no longer configured are listed too, with is_configured = false.
  The `ticketing_accounts` var is the fallback when the variable is not set.
#}
{%- set accounts = fromjson(env_var('TICKETING_DBT_ACCOUNTS', '[]'))
    or var('ticketing_accounts', []) -%}
with

configured as (

    {% if accounts | length > 0 -%}
    {%- for account in accounts %}
    select
        cast({{ dbt.string_literal(account['platform']) }} as {{ text_type() }}) as platform,
        cast({{ dbt.string_literal(account['account_id']) }} as {{ text_type() }}) as account_id,
        cast({{ dbt.string_literal(account.get('display_name') or account['account_id']) }}
            as {{ text_type() }}) as display_name,
        {{ 'true' if account.get('enabled', true) else 'false' }} as is_enabled
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- else -%}
    select
        cast(null as {{ text_type() }}) as platform,
        cast(null as {{ text_type() }}) as account_id,
        cast(null as {{ text_type() }}) as display_name,
        cast(null as boolean) as is_enabled
    where 1 = 0
    {%- endif %}

),

sync_runs as (

    select * from {{ ref('stg_ops__sync_runs') }}

),

last_runs as (

    select
        platform,
        account_id,
        sync_status,
        error_message,
        finished_at,
        rows_loaded,
        row_number() over (
            partition by platform, account_id order by finished_at desc
        ) as recency
    from sync_runs

),

sync_summary as (

    select
        platform,
        account_id,
        max(case when sync_status = 'succeeded' then finished_at end) as last_successful_sync_at,
        max(finished_at) as last_sync_at,
        sum(case when sync_status = 'failed' then 1 else 0 end) as failed_syncs,
        count(*) as syncs
    from sync_runs
    group by platform, account_id

),

accounts as (

    select platform, account_id from configured
    union
    select platform, account_id from sync_summary

),

final as (

    select
        cast(
            {{ hash_key(['accounts.platform', 'accounts.account_id']) }} as {{ text_type() }}
        ) as account_key,
        cast(accounts.platform as {{ text_type() }}) as platform,
        cast(accounts.account_id as {{ text_type() }}) as account_id,
        cast(coalesce(configured.display_name, accounts.account_id) as {{ text_type() }})
            as display_name,
        cast(configured.account_id is not null as boolean) as is_configured,
        cast(coalesce(configured.is_enabled, false) as boolean) as is_enabled,
        cast(sync_summary.last_successful_sync_at as {{ timestamp_tz_type() }})
            as last_successful_sync_at,
        cast(sync_summary.last_sync_at as {{ timestamp_tz_type() }}) as last_sync_at,
        cast(last_runs.sync_status as {{ text_type() }}) as last_sync_status,
        cast(last_runs.error_message as {{ text_type() }}) as last_sync_error,
        cast(last_runs.rows_loaded as bigint) as last_sync_rows_loaded,
        cast(coalesce(sync_summary.syncs, 0) as bigint) as sync_count,
        cast(coalesce(sync_summary.failed_syncs, 0) as bigint) as failed_sync_count,
        -- Filled once the webhook receiver reports per-account status.
        cast(null as {{ text_type() }}) as webhook_status
    from accounts
    left join configured
        on accounts.platform = configured.platform
        and accounts.account_id = configured.account_id
    left join sync_summary
        on accounts.platform = sync_summary.platform
        and accounts.account_id = sync_summary.account_id
    left join last_runs
        on accounts.platform = last_runs.platform
        and accounts.account_id = last_runs.account_id
        and last_runs.recency = 1

)

select * from final
