"""What every command that reads the tenant shares: the read-only Graph reader, sign-in, ownership by id, tables.

May import ``components``, ``tools.cli`` and ``tools.tenant`` only.
"""
