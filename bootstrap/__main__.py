"""inbound-provisioning-access-bootstrap: the pipeline's three identities and its GitHub settings."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file from bootstrap/; the modules it builds on live at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bootstrap.pipeline import build

for name, value in build().items():
    pulumi.export(name, value)
