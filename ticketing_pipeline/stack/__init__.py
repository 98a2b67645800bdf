"""``ticketing up``: the whole system on one machine, for a demo or a first look.

- ``up.py``: starts the sandbox (live), the webhook receiver, ``dagster dev``, the dashboard and
  the Gigs feed under honcho, with generated secrets;
- ``setup.py``: registers the webhooks and runs the first load once the processes answer;
- ``live.py``: the sandbox in live mode (new sales while it runs);
- ``dagster_home.py``: a local Dagster home (storage, the warehouse writer pool of one).

Production runs the same processes under its own supervisor (``deploy/``).
"""
