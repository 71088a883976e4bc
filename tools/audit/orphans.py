"""Credentials a cancelled or killed ``pulumi up`` created and the state never recorded: told by key id.

Such a run leaves a *pending create* in the stack's state (``tools/stack/pending.py``) and, perhaps, the
credential in Entra.  The audit already reports every credential on a client's app whose key id the
stack did not register; where the state holds a pending create of that client's credential, those
findings are its orphans:

* a generated certificate's key id is the program's (``components/renewal.py``,
  :func:`~components.renewal.certificate_key_id`): the one whose key id is the pending generation's is
  the orphan, for certain;
* a client secret's key id is Graph's, so each secret the stack did not register is a candidate (nobody
  has its value: none of them can be in use by a consumer of the stack).

Never by display name or date: anyone can name or date a credential.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from components.renewal import certificate_key_id
from tools.stack.pending import CERTIFICATE, PASSWORD, PendingCreate

if TYPE_CHECKING:
    from tools.audit.model import Finding, Section

ORPHAN = "orphan"
ADVICE = ("orphan: an interrupted `pulumi up` created it and the state does not hold it; nobody has a secret's value: "
          "delete it (`az ad app credential delete --id <client id> --key-id <id>`), or import a certificate "
          "(`pulumi refresh --import-pending-creates`), then `pulumi refresh --clear-pending-creates`")


def mark_orphans(sections: Iterable[Section], pending: Sequence[PendingCreate]) -> None:
    """Relabel each client section's undeclared secrets and certificates that a pending create explains."""
    for section in sections:
        if not section.scope.startswith("client "):
            continue
        key = section.scope.removeprefix("client ")
        for create in pending:
            if not create.name.startswith(f"{key}-") or create.type not in (PASSWORD, CERTIFICATE):
                continue
            for finding in section.findings:
                if finding.where != "app registration":
                    continue
                if create.type == PASSWORD and finding.kind == "secret":
                    _mark(finding, f"a candidate: the interrupted create of {create.name} may have made it")
                elif create.type == CERTIFICATE and finding.kind == "certificate" and (
                        finding.object_id.lower() == certificate_key_id(key, _generation(key, create.name))):
                    _mark(finding, f"the interrupted create of {create.name} made it (its key id is that generation's)")


def _generation(key: str, name: str) -> str:
    """The generation a credential's resource name carries (``<key>-certificate-<generation>``)."""
    return name.removeprefix(f"{key}-certificate").removeprefix("-")


def _mark(finding: Finding, why: str) -> None:
    finding.kind = ORPHAN
    finding.name = f"{finding.name}; {why}"
