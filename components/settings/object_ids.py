"""Lists of directory object ids in config (Key Vault readers, trusted principals): GUIDs, each once."""

from __future__ import annotations

from typing import Any

from components.settings.model import GUID_RE
from components.settings.problems import Checker


def object_ids(check: Checker, value: Any, path: str, rule: str, each: str) -> tuple[str, ...]:
    """The object ids, lower-cased, in config order; every bad entry is one problem with its index.

    ``rule`` says what an entry is; ``each`` names one in the duplicate's message ("list each <each> once").
    """
    if not isinstance(value, list):
        check.add(path, value, f"a list, each entry {rule}")
        return ()
    name = path.rsplit(".", 1)[-1]
    seen: dict[str, int] = {}
    for index, entry in enumerate(value):
        if not isinstance(entry, str) or not GUID_RE.match(entry):
            by_name = ("; for a user by sign-in name: `az ad user show --id <name> --query id -o tsv`"
                       if isinstance(entry, str) and "@" in entry else "")
            check.add(f"{path}[{index}]", entry, f"{rule}{by_name}")
        elif entry.lower() in seen:
            check.add(f"{path}[{index}]", entry, f"the same principal as {name}[{seen[entry.lower()]}]; "
                      f"list each {each} once")
        else:
            seen[entry.lower()] = index
    return tuple(seen)
