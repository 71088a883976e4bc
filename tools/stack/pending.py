"""Creates a cancelled or killed ``pulumi up`` left pending in a stack's state: `make up` refuses to go on over them.

``pulumi cancel``, or a runner killed mid-update, can stop the engine while a provider is creating an
object: Entra (or Azure) may hold it, the state holds only a *pending create*.  The engine keeps that
record until someone resolves it (pulumi ``pkg/backend/snapshot.go``), warns at every update and goes
on; the next ``pulumi up`` then creates the object again.  For a client secret that is a third
credential, and the first one's value is lost for good.  No program can see the record (nothing reads
a state's pending operations into a program), so ``make up`` and ``make preview`` read it here, from
``pulumi stack export``, and stop until it is resolved (docs/credentials-and-renewal.md, "A cancelled
or killed run").

Exit status: 0 nothing pending; 1 pending creates (listed, with what to do); 2 the state cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tools.cli import plain_help
from tools.stack.outputs import StackOutputError, pulumi_stack_export

EXIT_NONE, EXIT_PENDING, EXIT_UNREADABLE = 0, 1, 2
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"  # noqa: S105 (a resource type)
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"


@dataclass(frozen=True)
class PendingCreate:
    """One create the state records as begun and never finished."""

    urn: str
    type: str

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def pending_creates(export: Any) -> list[PendingCreate]:
    """The pending creates in a ``pulumi stack export`` (``deployment.pending_operations`` of type ``creating``)."""
    deployment = export.get("deployment") if isinstance(export, Mapping) else None
    operations = deployment.get("pending_operations") if isinstance(deployment, Mapping) else None
    found = []
    for operation in operations or []:
        resource = operation.get("resource") if isinstance(operation, Mapping) else None
        if isinstance(resource, Mapping) and operation.get("type") == "creating":
            found.append(PendingCreate(str(resource.get("urn", "?")), str(resource.get("type", "?"))))
    return found


def _advice(pending: PendingCreate) -> str:
    if pending.type == PASSWORD:
        return ("a client secret nobody has the value of: `make audit` lists it on the client's app by key id; "
                "delete it (`az ad app credential delete --id <client id> --key-id <key id>`), then clear the record")
    if pending.type == CERTIFICATE:
        return ("a certificate the stack made (its key pair is in the state): import it with "
                f"`pulumi refresh --import-pending-creates {pending.urn} <application id>/certificate/<key id>` "
                "(`make audit` names the key id), or delete it and clear the record")
    return ("check whether it exists (`make audit`, the portal); import it with `pulumi refresh "
            f"--import-pending-creates {pending.urn} <id>`, or delete it and clear the record")


def refusal(stack: str, pending: Sequence[PendingCreate]) -> str:
    """What ``make up`` says instead of deploying over pending creates."""
    lines = "".join(f"  - {p.urn}: {_advice(p)}\n" for p in pending)
    return (f"error: the state of stack {stack} holds {len(pending)} create(s) an earlier run began and never "
            "finished (cancelled, or its runner killed); the object may exist while the state does not know it, "
            "and deploying now would make it again (for a credential: one more than the two a client may have):\n"
            f"{lines}Clear a record once resolved: `pulumi refresh --stack {stack} --clear-pending-creates` "
            "(docs/credentials-and-renewal.md, \"A cancelled or killed run\").\n")


def main(argv: Sequence[str] | None = None, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack.pending", description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--export", type=Path, metavar="FILE", help="a `pulumi stack export` file instead of the CLI")
    args = parser.parse_args(argv)
    try:
        export = json.loads(args.export.read_text()) if args.export else pulumi_stack_export(args.stack)
    except (OSError, ValueError, StackOutputError) as error:
        err.write(f"error: cannot read the state of stack {args.stack} (`pulumi stack export`): {error}\n")
        return EXIT_UNREADABLE
    pending = pending_creates(export)
    if pending:
        err.write(refusal(args.stack, pending))
        return EXIT_PENDING
    return EXIT_NONE


if __name__ == "__main__":
    sys.exit(main())
