"""Stage 1, platform sources: dlt sources over the Humanitix and Eventbrite REST APIs.

- ``humanitix/`` and ``eventbrite/``: ``source.py`` (the dlt source: endpoints, paginators,
  incremental cursors, per-event fan-out) and ``tables.py`` (each raw table's typed columns,
  primary key and merge policy);
- ``http.py``: the platforms' HTTP client (retries, no redirects, so a secret never leaves its
  origin); ``ratelimit.py``: per-token call budgets; ``common.py``: account auth and time parsing;
- ``shaping.py``: records to Arrow tables of the declared types; a value of the wrong type is kept
  in ``invalid_fields`` and a record that cannot load in ``rejected_records``, never dropped.

The platforms' facts these rely on, with their evidence, are in ``docs/platforms.md``. Nothing
here imports a later stage: ``ingest/`` runs these sources.
"""
