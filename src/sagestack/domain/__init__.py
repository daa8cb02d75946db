"""The domain layer: per resource family, its store type, its status machine (as data), how a status change
is recorded, and the plan logic — used alike by the handlers (``services``), the control loops
(``reconcilers``), the executors (``execution``) and the serving controller (``serving``).

Nothing here imports those layers; modules here depend only on ``store``, ``protocol`` and (for what an
image URI means) ``algorithms``. See ``docs/architecture.md``.
"""
