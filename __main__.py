"""inbound-provisioning-access: grant HR clients access to Entra's inbound provisioning API."""

import pulumi

from components.program import build
from components.settings import load_settings

# Validate all config first: a bad value fails the run before anything is registered.
settings = load_settings()
for name, value in build(settings).items():
    pulumi.export(name, value)
