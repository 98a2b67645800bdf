"""Stage 2, ingest: run the platform sources (``sources/``) into the warehouse's raw tables.

- ``sync.py``: one dlt pipeline (state, cursors) per account; finishes or discards a pending
  load package before extracting new data; records every attempt in ``ops.sync_runs``.
- ``reports.py``: what the raw tables hold and the data-quality counts a sync reports.

Downstream: ``transform/`` (dbt) reads the raw tables; ``webhooks/loader.py`` reuses the runner
for landed deliveries; ``defs/ingest.py`` wraps it in Dagster assets.
"""
