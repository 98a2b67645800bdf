"""ticketing-pipeline: ELT for Humanitix and Eventbrite (see README.md).

The package follows the data, each stage in a folder of its name, importing only earlier ones:

    sources/ -> ingest/ -> transform/ (dbt; SQL in dbt_project/) -> gigs/, dashboard/
    webhooks/: receiver -> landing -> loader (into the same raw tables as ingest/)

``config.py``, ``warehouse.py`` and ``money.py`` are shared by all; ``defs/`` (Dagster) and
``definitions.py`` orchestrate the stages; ``operations/``, ``stack/`` and ``cli.py`` are the
tools on top. ``sandbox/`` fakes both platforms and imports nothing of the pipeline;
``sandbox_harness/`` points the pipeline at it (demo, tests, benchmarks, dashboard fixtures).
"""

import warnings

# dagster-dbt 0.29 requires sqlglot[rs]; the sqlglotrs package that brings warns on import that
# it is deprecated, on every load of the definitions, and nothing in this project uses it.
warnings.filterwarnings("ignore", message="sqlglotrs is deprecated", category=DeprecationWarning)
