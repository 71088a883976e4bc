"""``make adopt``: find what the tutorial or the portal made, and print or write the ``adopt`` blocks.

May import ``components``, ``tools.cli``, ``tools.tenant``, ``tools.stack``, ``tools.audit`` (its per-client
check) and ``tools.adopt``.
"""
