"""``make audit``: read-only, what in the tenant gives the stack's clients access, or anyone else HR upload access.

May import ``components``, ``tools.tenant``, ``tools.stack``, ``tools.mermaid`` and ``tools.audit``.
"""
