"""What a stack file declares and which existing identities it names: what ``tools/policy-config.sh`` reads.

``python -m tools.stack.existing_identities Pulumi.<stack>.yaml <stack> [--declared FILE]`` prints one line
per ``clients.<key>.existing`` (``key<TAB>displayName|objectId|clientId<TAB>value``), from the stack file
read and validated as ``make plan`` reads it, and writes to FILE, as JSON, what the file declares
(``tools/stack/declared.py``); on a problem it prints ``error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from components.settings.model import ManagedIdentityClientSettings, Settings
from components.settings.problems import SettingsError
from tools.stack.declared import declaration, read_settings
from tools.stack.stack_file import StackFileError, shown_path

# What the shell script can read back safely: one line, three tab-separated fields.
_PLAIN = re.compile(r"^[^\t\r\n\x00-\x1f]{1,256}$")


def existing_identities(stack_file: Path, stack: str) -> list[tuple[str, str, str]]:
    """(client key, lookup, value) of every existing identity in ``stack_file``; none when it is absent
    (a new stack has no stack file until its first ``pulumi config set``)."""
    return identities_of(read_settings(stack_file, stack))


def identities_of(settings: Settings | None) -> list[tuple[str, str, str]]:
    """(client key, lookup, value) of every existing identity in ``settings``."""
    found: list[tuple[str, str, str]] = []
    for key, client in (settings.clients if settings is not None else {}).items():
        if isinstance(client, ManagedIdentityClientSettings) and client.existing is not None:
            value = client.existing.value
            if not isinstance(value, str) or not _PLAIN.match(value):
                raise ValueError(f"clients.{key}.existing.{client.existing.lookup}: not a plain one-line value")
            found.append((key, client.existing.lookup, value))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("stack_file", type=Path)
    parser.add_argument("stack")
    parser.add_argument("--declared", type=Path, help="write what the stack file declares here, as JSON")
    options = parser.parse_args(argv)
    try:
        settings = read_settings(options.stack_file, options.stack)
        found = identities_of(settings)
    except (StackFileError, SettingsError, ValueError) as error:
        print(f"error: {shown_path(options.stack_file)}: cannot read the existing identities: "
              f"{str(error)[:2000]}", file=sys.stderr)
        return 2
    if options.declared is not None:
        options.declared.write_text(json.dumps(declaration(settings, options.stack), separators=(",", ":")))
    for key, lookup, value in found:
        print(f"{key}\t{lookup}\t{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
