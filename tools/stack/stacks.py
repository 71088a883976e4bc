"""The stacks of this checkout, from its ``Pulumi.<stack>.yaml`` files, as a GitHub Actions matrix.

Prints one JSON object: ``all``, ``prod`` (stacks named prod*) and ``nonprod``, each a list of
``{"stack", "secrets", "previewEnvironment"}``.  A stack "has secrets" when a preview of it
decrypts secret values: a ``secure:`` config value, or a client whose credential puts secret
material in the stack's outputs (a client secret, a generated certificate).  Anything this reader
cannot tell counts as secret.  Such stacks are previewed in the ``preview-secrets`` environment,
which has required reviewers.  This is routing only: what a job can decrypt is decided by what
its environment holds (docs/gitops.md, 'Trust boundaries').
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from components.settings.parse import is_prod_stack
from components.settings.stack_config import NAMESPACE
from tools.cli import plain_help

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")
SECRET_MATERIAL = {"secret"}


def _has_secrets(document: Any) -> bool:
    if not isinstance(document, dict):
        return True
    config = document.get("config") or {}
    if not isinstance(config, dict):
        return True
    for value in config.values():
        if isinstance(value, dict) and "secure" in value:
            return True
    clients = config.get(f"{NAMESPACE}:clients") or {}
    if not isinstance(clients, dict):
        return True
    for client in clients.values():
        credential = client.get("credential") if isinstance(client, dict) else None
        if credential is None:
            continue
        if not isinstance(credential, dict):
            return True
        if credential.get("type") in SECRET_MATERIAL or "generate" in credential:
            return True
    return False


def has_secrets(path: Path) -> bool:
    """Whether previewing this stack decrypts secret values (unreadable files count as yes)."""
    try:
        return _has_secrets(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError):
        return True


def discover(root: Path) -> dict[str, list[dict[str, Any]]]:
    entries: list[dict[str, Any]] = []
    prod: list[dict[str, Any]] = []
    nonprod: list[dict[str, Any]] = []
    for path in sorted(root.glob("Pulumi.*.yaml")):
        match = STACK_FILE.match(path.name)
        if match is None:
            continue
        stack, secrets = match[1], has_secrets(path)
        entry = {"stack": stack, "secrets": secrets, "previewEnvironment": "preview-secrets" if secrets else "preview"}
        entries.append(entry)
        # The program's own rule (any case: Prod-eu, PROD), which the policy pack enforces too.
        (prod if is_prod_stack(stack) else nonprod).append(entry)
    return {"all": entries, "prod": prod, "nonprod": nonprod}


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack.stacks", description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    json.dump(discover(args.root), out, separators=(",", ":"))
    out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
