"""The policy pack `pulumi preview|up --policy-pack policy` loads (see rules.py for the rules).

Importing this module starts the analyzer's gRPC server and never returns: tests import
``policy.rules`` instead.
"""

import sys
from pathlib import Path

# The rules read the allow-list from components/microsoft.py of the same checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.rules import policies

PolicyPack(
    name="inbound-provisioning-access-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(policies()),
)
