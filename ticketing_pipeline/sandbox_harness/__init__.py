"""The sandbox harness: the pipeline run against the local sandbox, in one place.

Start the sandbox, derive the project config of its accounts (secrets in the environment),
sync, build the marts: ``ticketing demo``, the tests, the benchmarks and the dashboard's fixtures
all do it through here, so only this package knows the sequence. It sits beside the pipeline:
it uses the sandbox, the config, the sync runner and the dbt runner, and nothing of the
dashboard, the Gigs feed or the Dagster definitions.

- ``config``: the accounts, the project config and its TOML, for a running sandbox
  (``sandbox_config``) or a URL to come (``ticketing sandbox serve --write-config``,
  ``ticketing up``). It imports no dlt or dbt, so those config writers start fast.
- ``pipeline``: ``sandbox_pipeline``, a block with the sandbox running and its secrets set
  (``run.sync()``, ``run.build()``), and ``build_sandbox_warehouse`` on top of it.

    from ticketing_pipeline.sandbox_harness.pipeline import sandbox_pipeline

    with sandbox_pipeline(SandboxSpec(orders=2_000), data_dir) as run:
        run.sync()
        run.build()  # dbt build, as production runs it
"""
