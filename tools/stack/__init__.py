"""A stack as the Pulumi CLI holds it: its stack file (read, bounded, validated), its outputs and its history.

Also ``make check-expiry`` (``expiry``) and the stack lists the workflows and the policy config read
(``stacks``, ``existing_identities``). May import ``components``, ``tools.cli`` and ``tools.stack`` only.
"""
