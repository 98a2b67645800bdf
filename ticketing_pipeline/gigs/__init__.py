"""The Gigs feed: a read-only public JSON API and calendar export over ``session_complete``.

The public "Gigs" calendar reads upcoming published sessions from here instead of from the
warehouse, so a consumer never keeps a select list of its own:

- ``contract``: the columns the feed reads, checked against the mart's enforced dbt contract in CI;
- ``snapshot``: an in-memory copy of the upcoming sessions, refreshed in the background, so the
  feed never holds the warehouse (a DuckDB reader would block loads and builds);
- ``models`` / ``query``: the response shapes and the filters, ordering and keyset pagination;
- ``calendar``: the ``.ics`` export; ``app``: the HTTP API (FastAPI, OpenAPI at ``/openapi.json``),
  with conditional GET (ETag) and cache headers, and an example page at ``/``.
"""
