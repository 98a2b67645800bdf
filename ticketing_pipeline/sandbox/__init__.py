"""Local fake of the Humanitix and Eventbrite REST APIs over a deterministic data set.

See README.md in this folder. Entry points: ``generate(SandboxSpec(...))`` for the data,
``build_app(dataset)`` for the ASGI app, ``SandboxServer`` for tests and demos, ``serve`` for a CLI.
"""
