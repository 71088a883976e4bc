"""The component package: what ``pulumi package add`` loads, and the schema Pulumi infers for it.

``package/__main__.py`` hosts :data:`COMPONENTS` with Pulumi's component provider
(``pulumi.provider.experimental``), which infers the schema from the type annotations and
docstrings of ``components/access.py`` and ``components/access_args.py``.  :func:`schema` builds
the same schema in-process, with no CLI: ``make schema`` writes it to ``schema.json`` and the
tests compare the two.

Only ``InboundProvisioningAccess`` is exported.  The building blocks (``ServicePrincipalClient``,
``ManagedIdentityClient``, ``ProvisioningApp``) take frozen dataclasses of validated settings and
of what was read from the tenant (a union of credential forms, ``Literal`` and tuple fields, a
``datetime``); the analyzer infers none of these, and the provider would hand them plain dicts.
A block on its own is ``InboundProvisioningAccess`` with one client (``tests/test_package.py``
keeps this claim honest).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.provider.experimental.component import ComponentProvider

from components.access import InboundProvisioningAccess
from components.settings.stack_config import NAMESPACE

NAME = NAMESPACE
VERSION = "0.1.0"
"""The package version; tag the commit that sets it ``v<VERSION>`` (see docs/package.md, 'Versions and releases')."""
COMPONENTS: list[type[pulumi.ComponentResource]] = [InboundProvisioningAccess]
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.json"


def provider() -> ComponentProvider:
    """The provider ``package/__main__.py`` hosts."""
    return ComponentProvider(COMPONENTS, NAME, version=VERSION)


def schema() -> dict[str, Any]:
    """The package schema, as the hosted provider answers ``GetSchema``."""
    text = provider().schema
    if text is None:
        raise RuntimeError("the component provider produced no schema")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_text() -> str:
    """The schema as ``schema.json`` holds it: sorted keys, two-space indent, a final newline."""
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
