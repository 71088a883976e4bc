"""The `make audit` report: a table per client, the tenant section, what to do with each finding; or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from tools.audit.orphans import ADVICE as ORPHAN_ADVICE
from tools.tenant.ownership import NO_KEY_IDS
from tools.tenant.tables import render_table

# What to do with each class of finding (docs/audit.md says the same, with the commands).
ADVICE = {
    "secret": "secret: remove it once nobody signs in with it (`az ad app credential delete --id <client id> "
              "--key-id <id>`; on a service principal, `az ad sp credential delete`); the stack hands out its own",
    "certificate": "certificate: remove it as a secret (same commands), once its user has the stack's credential",
    "federated credential": "federated credential: remove it (`az ad app federated-credential delete --id "
                            "<client id> --federated-credential-id <id>`), or declare it in the stack's config",
    "unclassified credential": f"unclassified credential: {NO_KEY_IDS} (`make up`), then run make audit again",
    "owner": "owner: remove it; an owner can add a credential and act with the client's permissions "
             "(`az ad app owner remove`, or DELETE /servicePrincipals/<principal>/owners/<id>/$ref)",
    "app role": "app role: remove the assignment (DELETE /servicePrincipals/<principal>/appRoleAssignments/<id>), "
                "or declare it: add it to graphPermissions and run make adopt, which proposes adopting it",
    "delegated grant": "delegated grant: remove it (DELETE /oauth2PermissionGrants/<id>); an HR client needs no "
                       "delegated permission",
    "directory role": "directory role: remove it (DELETE /roleManagement/directory/roleAssignments/<id>)",
    "orphan": ORPHAN_ADVICE,
    "gone": "gone: the object was deleted; `make preview` shows what the deploy recreates, then `make up`",
    "HR permission": "HR permission: someone else can write HR records into the directory, or read its provisioning "
                     "logs; remove the assignment, or bring that client into a stack (make adopt)",
}


def render_text(report: Mapping[str, Any], out: TextIO) -> None:
    """A table per section (client, provisioning app, tenant), then what to do per class of finding."""
    out.write(f"# make audit: stack `{report['stack']}`: read from the tenant, nothing changed\n")
    for section in report["sections"]:
        out.write(f"\n## {section['title']}\n")
        out.write(f"checked: {', '.join(section['checked']) or 'nothing could be read'}\n")
        findings = section["findings"]
        if not findings:
            out.write("nothing the stack did not declare\n")
            continue
        rows = [[_one_line(f["kind"]), f["where"], _one_line(f["name"]), _one_line(f["object_id"])] for f in findings]
        kinds = dict.fromkeys(f["kind"] for f in findings)
        render_table(["finding", "on", "what", "id"], rows, [("what to do", ADVICE[k]) for k in kinds], out)
    total = report["findings"]
    out.write(f"\n{total} finding(s).\n" if total else "\nClean: everything checked is what the stack declared.\n")


def _one_line(text: str) -> str:
    """A name from the tenant on one line: a line break or other control character in it is shown escaped,
    so it cannot forge a line of the report."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def render_json(report: Mapping[str, Any], out: TextIO) -> None:
    out.write(json.dumps(report, indent=2) + "\n")
