"""``make verify``: each client's token carries exactly its grants; ``--deployer`` reads them through Graph instead.

May import ``components``, ``tools.cli``, ``tools.tenant``, ``tools.stack`` and ``tools.verify``.
"""
