"""make verify --deployer: each principal's grants as Graph records them, read by the deployer.

For identities that cannot run ``make verify`` themselves (the tutorial's Logic App runs no
Python; a federated workload signs in elsewhere), the deployer reads every client's app role
assignments on Microsoft Graph (the same reader as ``make adopt``) and compares them with the
permissions the stack granted. This proves the grants exist; it does not prove a token carries
them yet (a managed identity's token is cached by Azure for up to 24 hours).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from tools.graph_reader import GraphReader
from tools.tables import render_table

EXIT_OK, EXIT_MISMATCH = 0, 1


@dataclass
class GrantCheck:
    """The verdict for one client's principal."""

    key: str
    principal: str
    expected: list[str]
    granted: list[str] = field(default_factory=list)
    verdict: str = "OK"
    reasons: list[str] = field(default_factory=list)


def check_grants(key: str, client: Mapping[str, Any], reader: GraphReader) -> GrantCheck:
    principal = str(client.get("servicePrincipalObjectId", ""))
    check = GrantCheck(key, principal, sorted(client.get("graphPermissions", [])))
    held, other = reader.graph_grants(principal)
    check.granted = sorted(held)
    missing = sorted(set(check.expected) - set(held))
    extra = sorted(set(held) - set(check.expected))
    if missing:
        check.verdict = "MISMATCH"
        check.reasons.append(f"missing {', '.join(missing)}: not granted; run `make up`")
    if extra:
        check.verdict = "MISMATCH"
        ids = ", ".join(f"{p} (assignment {held[p].id})" for p in extra)
        check.reasons.append(f"extra {ids}: granted outside this stack (portal or script); remove it for least "
                             "privilege, or add it to graphPermissions")
    check.reasons += [f"note: {o} (another API; not checked)" for o in other]
    return check


def render(checks: Sequence[GrantCheck], out: TextIO) -> None:
    rows = [[c.key, c.principal, ", ".join(c.expected), ", ".join(c.granted) or "(none)", c.verdict] for c in checks]
    render_table(["client", "principal", "expected roles", "granted on Graph", "verdict"], rows,
                 [(c.key, reason) for c in checks for reason in c.reasons], out)


def run(clients: Mapping[str, Mapping[str, Any]], selected: Sequence[str], reader: GraphReader,
        out: TextIO) -> int:
    """Check the selected clients; raises ``GraphAccessError`` on sign-in or permission problems."""
    checks = [check_grants(key, clients[key], reader) for key in selected]
    render(checks, out)
    return EXIT_MISMATCH if any(c.verdict != "OK" for c in checks) else EXIT_OK
