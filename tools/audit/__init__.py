"""``make audit``: read-only, who can upload HR records, and what gives the stack's clients access, undeclared.

May import ``components``, ``tools.cli``, ``tools.tenant``, ``tools.stack``, ``tools.mermaid``, ``tools.markdown``
and ``tools.audit``.
"""
