-- One row per account sync attempt (written by ticketing_pipeline/ingest/sync.py).
with

source as (

    select * from {{ source_or_empty('ticketing_ops', 'sync_runs') }}

),

renamed as (

    select
        ----------  ids
        platform,
        account_id,
        pipeline_name,

        ----------  strings
        case lower(status) when 'succeeded' then 'succeeded' else 'failed' end as sync_status,
        error as error_message,

        ----------  numerics
        coalesce(rows_loaded, 0) as rows_loaded,

        ----------  timestamps
        finished_at

    from source

)

select * from renamed
