"""The generation of each platform's data (``humanitix``, ``eventbrite``, their ``*_orders``
builders that ``mutate`` reuses), on what they share (``common``). ``generator.generate``
composes them.
"""
