"""``trustedPrincipals``: the object ids ``make audit`` lists as expected holders of a path to the upload."""

from __future__ import annotations

from typing import Any

from components.settings.model import GUID_RE
from components.settings.problems import MISSING, Checker

TRUSTED_RULE = ("an object id (a GUID) of a user, group or service principal expected to hold a path to the upload "
                "(the pipeline's deploy identity, a break-glass administrator)")


def parse_trusted_principals(check: Checker, value: Any, path: str = "trustedPrincipals") -> tuple[str, ...]:
    """The trusted object ids, lower-cased, in config order; every bad entry is one problem with its index."""
    if value is MISSING or value is None:
        return ()
    if not isinstance(value, list):
        check.add(path, value, f"a list, each entry {TRUSTED_RULE}")
        return ()
    seen: dict[str, int] = {}
    for index, entry in enumerate(value):
        if not isinstance(entry, str) or not GUID_RE.match(entry):
            by_name = ("; for a user by sign-in name: `az ad user show --id <name> --query id -o tsv`"
                       if isinstance(entry, str) and "@" in entry else "")
            check.add(f"{path}[{index}]", entry, f"{TRUSTED_RULE}{by_name}")
        elif entry.lower() in seen:
            check.add(f"{path}[{index}]", entry, f"the same principal as {path}[{seen[entry.lower()]}]; "
                      "list each principal once")
        else:
            seen[entry.lower()] = index
    return tuple(seen)
