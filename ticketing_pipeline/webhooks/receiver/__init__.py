"""The receiver: the HTTP endpoint the platforms (and relays) deliver webhooks to.

- ``app.py``: the Starlette app: authenticate, validate, land durably, then answer 2xx;
- ``auth.py``: per-account secrets, URL tokens, Standard Webhooks signatures;
- ``payloads.py``: just enough validation to know what a delivery is;
- ``writer.py``: group commit, so concurrent deliveries share a round of fsyncs;
- ``metrics.py``: counters by outcome and reason, landing latency;
- ``server.py``: uvicorn with several workers (``ticketing webhooks serve``).

It writes only to the landing area (``webhooks/landing.py``); nothing here loads the warehouse.
"""
