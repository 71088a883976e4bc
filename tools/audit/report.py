"""The `make audit` report: a table per section, who can upload, what to do with each finding; JSON; the job summary."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from tools.audit.diagram import flowchart
from tools.audit.orphans import ADVICE as ORPHAN_ADVICE
from tools.markdown import fence_for
from tools.mermaid import fenced
from tools.tenant.ownership import NO_KEY_IDS
from tools.tenant.tables import render_table

# What to do with each class of finding (docs/audit.md says the same, with the commands).
ADVICE = {
    "orphan": ORPHAN_ADVICE,
    "secret": "secret: remove it once nobody signs in with it (`az ad app credential delete --id <client id> "
              "--key-id <id>`; on a service principal, `az ad sp credential delete`); the stack hands out its own",
    "certificate": "certificate: remove it as a secret (same commands), once its user has the stack's credential",
    "federated credential": "federated credential: remove it (`az ad app federated-credential delete --id "
                            "<client id> --federated-credential-id <id>`), or declare it in the stack's config; "
                            "one the stack made but edited in place is restored by the next `pulumi up --refresh`",
    "unclassified credential": f"unclassified credential: {NO_KEY_IDS} (`make up`), then run make audit again",
    "app role": "app role: remove the assignment (DELETE /servicePrincipals/<principal>/appRoleAssignments/<id>), "
                "or declare it: add it to graphPermissions and run make adopt, which proposes adopting it",
    "delegated grant": "delegated grant: remove it (DELETE /oauth2PermissionGrants/<id>); an HR client needs no "
                       "delegated permission",
    "directory role": "directory role: remove it (DELETE /roleManagement/directory/roleAssignments/<id>)",
    "gone": "gone: the object was deleted; `make preview` shows what the deploy recreates, then `make up`",
    "path": "path: someone the stack did not declare can upload, or give itself the upload: remove the role, "
            "permission, ownership, membership or credential on the path (its objectId in --json; docs/audit.md "
            "says how, per path), or, if it must keep it, add the principal's id to trustedPrincipals",
}


def _one_line(text: str) -> str:
    """A name from the tenant on one line: a line break or other control character in it is shown escaped,
    so it cannot forge a line of the report."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(text))


def render_text(report: Mapping[str, Any], out: TextIO) -> None:
    """A table per section (client, provisioning app), who can upload, then what to do per class of finding."""
    out.write(f"# make audit: stack `{report['stack']}`: read from the tenant, nothing changed\n")
    out.write(f"tenant {report['tenantId'] or '(not in the outputs)'}, generated {report['generatedAt']}\n")
    for section in report["sections"]:
        out.write(f"\n## {_one_line(section['title'])}\n")
        out.write(f"checked: {_one_line(', '.join(section['checked'])) or 'nothing could be read'}\n")
        for line in section["notChecked"]:
            out.write(f"{_one_line(line)}\n")
        if section["scope"] == "whoCanUpload":
            _who_can_upload(report["whoCanUpload"], out)
        findings = section["findings"] + section["unclassified"]
        if not findings:
            out.write("nothing the stack did not declare\n")
            continue
        rows = [[_one_line(f["kind"]), _one_line(f["where"]), _one_line(f["name"]), _one_line(f["objectId"])]
                for f in findings if f["kind"] != "path"]  # paths are in the table above
        advice = [("what to do", ADVICE[k]) for k in dict.fromkeys(f["kind"] for f in findings)]
        if rows:
            render_table(["finding", "on", "what", "id"], rows, advice, out)
        else:
            out.writelines(f"{key}: {reason}\n" for key, reason in advice)
    out.write(f"\n{verdict(report)}\n")


def _who_can_upload(paths: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    if not paths:
        out.write("no principal has a path to the upload that this audit could read\n")
        return
    rows = [[p["howDirect"], _one_line(p["principal"]), p["type"], _one_line(p["path"]),
             "FINDING" if p["status"] == "finding" else p["status"], _one_line(p["principalId"])] for p in paths]
    render_table(["how direct", "principal", "type", "path", "status", "principal id"], rows, [], out)


def verdict(report: Mapping[str, Any]) -> str:
    """The report's last line, which says what its exit status says."""
    if report["findings"]:
        return f"{report['findings']} finding(s)."
    not_checked = sum(len(s["notChecked"]) for s in report["sections"])
    if not_checked:
        return (f"Incomplete: {not_checked} read(s) not checked (each says the permission it needs); nothing is "
                "called clean until the auditor may make them.")
    if any(s["unclassified"] for s in report["sections"]):
        return f"Not classified: {NO_KEY_IDS}."
    return "Clean: everything checked is what the stack declared."


def render_json(report: Mapping[str, Any], out: TextIO) -> None:
    out.write(json.dumps(report, indent=2) + "\n")


def render_summary(report: Mapping[str, Any], text: str, out: TextIO) -> None:
    """The job summary: the diagram of the paths to the upload, then the report as text."""
    out.write(f"## make audit: stack `{_one_line(report['stack']).replace('`', '')}`\n\n")
    out.write(fenced(flowchart(report["whoCanUpload"])) + "\n\n")
    # Longer than any run of backticks in the names the tenant gave: none can close the block.
    fence = fence_for(text)
    out.write(f"{fence}text\n{text}{fence}\n")
