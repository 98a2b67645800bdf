"""Orchestration: the Dagster definitions over every stage (``definitions.py`` gathers them).

- ``ingest.py``: an asset per raw table and account (dagster-dlt), sync jobs and schedules;
- ``webhooks.py``: the sensor that loads landed deliveries and rebuilds what they feed;
- ``transform.py``: the dbt models as assets (dagster-dbt), the daily build, automation;
- ``raw_checks.py``, ``transform_checks.py``, ``loss_checks.py``: asset checks on raw data, the
  marts, and silent loss (orders or webhooks that stop arriving);
- ``alerts.py``: failed runs, failing checks and stale accounts sent to a person.

This is the top of the house: it imports the stages, and no stage imports it.
"""
