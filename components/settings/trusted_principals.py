"""``trustedPrincipals``: the object ids ``make audit`` lists as expected holders of a path to the upload."""

from __future__ import annotations

from typing import Any

from components.settings.object_ids import object_ids
from components.settings.problems import MISSING, Checker

TRUSTED_RULE = ("an object id (a GUID) of a user, group or service principal expected to hold a path to the upload "
                "(the pipeline's deploy identity, a break-glass administrator)")


def parse_trusted_principals(check: Checker, value: Any, path: str = "trustedPrincipals") -> tuple[str, ...]:
    """The trusted object ids, lower-cased, in config order; every bad entry is one problem with its index."""
    if value is MISSING or value is None:
        return ()
    return object_ids(check, value, path, TRUSTED_RULE, "principal")
