"""``make plan`` and ``make plan-diff``: the access plan and the access diff, and their Markdown.

May import ``components``, ``tools.cli``, ``tools.offline``, ``tools.stack``, ``tools.mermaid``,
``tools.markdown`` and ``tools.plan``; never the tenant readers.
"""
