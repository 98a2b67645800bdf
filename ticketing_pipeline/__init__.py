"""ticketing-pipeline: ELT for Humanitix and Eventbrite (see README.md)."""

import warnings

# dagster-dbt 0.29 requires sqlglot[rs]; the sqlglotrs package that brings warns on import that
# it is deprecated, on every load of the definitions, and nothing in this project uses it.
warnings.filterwarnings("ignore", message="sqlglotrs is deprecated", category=DeprecationWarning)
