"""Stage 3, transform: dbt turns the raw tables into staging, intermediate and the marts.

The SQL lives in ``dbt_project/`` (its README describes the models and their contracts); this
package is the Python side of dbt: ``dbt.py`` (profile from the warehouse URL, command line,
runner, manifest), shared by the Dagster dbt assets (``defs/transform.py``), the CLI, the
sandbox harness, tests and benchmarks. It imports no Dagster.
"""
