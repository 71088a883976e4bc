"""The component package's entry point: Pulumi's Python host runs it when a consumer uses the package.

The repository root is the stack program (its ``__main__.py``), so the plugin lives in this
directory and imports the components from the root.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components.package import COMPONENTS, NAME, VERSION

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name=NAME, version=VERSION)
