"""inbound-provisioning-access: grant HR clients access to Entra's inbound provisioning API."""

import pulumi

from components.access import from_stack_config

# The same component the package publishes, built from this stack's config. It validates all
# config first: a bad value fails the run before anything is registered.
access = from_stack_config()
for name, value in access.stack_outputs().items():
    pulumi.export(name, value)
