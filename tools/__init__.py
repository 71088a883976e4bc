"""The command-line tools, one package per command family; the Makefile is the only dispatcher.

- ``offline/``: the offline engine (mock monitor, offline Entra and Azure, the deploy simulation) that
  ``make plan`` and the tests run;
- ``stack/``: a stack file, its bounds and settings, a deployed stack's outputs and history
  (``make check-expiry``), the stacks of this checkout;
- ``plan/``: ``make plan`` and ``make plan-diff`` and their Markdown;
- ``tenant/``: what every command that reads the tenant shares (Graph reader, sign-in, ownership, tables);
- ``audit/``, ``adopt/``, ``verify/``: ``make audit``, ``make adopt``, ``make verify``;
- ``schema.py``: ``make schema``; ``cli.py``: what every command's ``--help`` shares;
  ``markdown.py``: the code fence the plan and the audit share; ``mermaid.py``:
  the diagrams the plan and the audit draw, text made inert.

Each package's ``__init__`` says what it may import; ``tests/test_layout.py`` holds them to it.
"""
