"""The offline engine: the mock engine with a recording monitor, the offline Entra and Azure, the deploy simulation.

A test harness that ``make plan`` also runs (like pulumi/pulumi's ``pkg/engine/lifecycletest``).
May import ``components``, ``tools.cli`` and ``tools.offline`` only: no command, no tenant reader.
"""
