"""Operator tools behind the CLI: what the data team runs by hand.

- ``accounts_check.py``: ``ticketing accounts check``: config, secret, platform auth, webhook
  registration, receiver and last sync, per account, with the fix named;
- ``webhook_registration.py``: ``ticketing webhooks register``: idempotent Eventbrite webhooks;
- ``build.py``: ``ticketing build``: dbt with each node reported as it finishes;
- ``landing_scan.py``, ``platform_calls.py``: what those read (the landing area, the APIs).
"""
