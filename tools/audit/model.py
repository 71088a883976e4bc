"""What make audit reports: findings per section, the paths to the upload, what it could not read, the exit status.

A *finding* is something in the tenant the stack did not declare. A *path* is one principal's way to
the upload (``/bulkUpload``), ranked by how direct it is; a path is a finding unless the stack
declared it (its own client's grant) or the principal is in ``trustedPrincipals``. A read Graph
refused is *not checked*, never clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_NOTHING_CHECKED, EXIT_INCOMPLETE, EXIT_UNCLASSIFIED = 0, 1, 2, 3, 4, 5

# How direct a path is, most direct first.
HOLDS, ONE_STEP, TWO_STEPS = "holds the upload", "one step", "two steps"
DIRECTNESS = (HOLDS, ONE_STEP, TWO_STEPS)
SEVERITY = {HOLDS: "high", ONE_STEP: "high", TWO_STEPS: "medium"}
# What a path is to the stack.
FINDING, TRUSTED, DECLARED = "finding", "trusted", "declared"

# What a path reaches, besides another principal (a group, an owner that is a service principal).
UPLOAD = "upload"
TENANT = "tenant"
PROVISIONING_APP = "provisioningApp"
TARGET_LABELS = {UPLOAD: "the upload (bulkUpload)", TENANT: "every app, grant and job (tenant-wide)",
                 PROVISIONING_APP: "the provisioning app and its job"}


def client_target(key: str) -> str:
    return f"client:{key}"


def target_label(target: str, names: dict[str, str]) -> str:
    """What a path's target is called: a fixed target, a client, or a principal by its name."""
    if target in TARGET_LABELS:
        return TARGET_LABELS[target]
    if target.startswith("client:"):
        return f"client {target.removeprefix('client:')}"
    return names.get(target, target)


@dataclass
class Finding:
    """One thing in the tenant the stack did not declare (ids, names and dates only)."""

    kind: str
    where: str
    name: str
    object_id: str
    principal_id: str
    """The principal this gives access to or as (the client's, an owner's, a holder's)."""
    path: str = ""
    severity: str = "high"
    permission: str | None = None
    """For an app role on Microsoft Graph: the permission (``make adopt`` proposes adopting it)."""


@dataclass(frozen=True)
class NotChecked:
    """A read Graph refused: what it would have checked and the least permission it needs."""

    what: str
    needs: str
    answered: str = ""

    def __str__(self) -> str:
        graph = f"; Graph answered 403 {self.answered}" if self.answered else ""
        return f"{self.what}: not checked (needs {self.needs}{graph})"


@dataclass
class Section:
    """What was checked for one client (or the provisioning app, or who can upload) and what was found."""

    scope: str
    """``client <key>``, ``provisioningApp`` or ``whoCanUpload``."""
    title: str
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unclassified: list[Finding] = field(default_factory=list)
    """Credentials the outputs cannot classify yet (they predate ``credentials``): neither own nor foreign."""
    not_checked: list[NotChecked] = field(default_factory=list)
    covers: list[tuple[str, str]] = field(default_factory=list)
    """The directory objects this section is about: (what, object id), e.g. the client's app registration."""

    def finding(self, kind: str, where: str, name: str, object_id: str, principal_id: str, *,
                severity: str = "high", permission: str | None = None) -> Finding:
        """A finding of this section, its path made of the section, the object it is on and its kind."""
        return Finding(kind, where, name, object_id, principal_id, f"{self.scope} > {where} > {kind}", severity,
                       permission)

    def add(self, kind: str, where: str, name: str, object_id: str, principal_id: str, *,
            severity: str = "high", permission: str | None = None) -> None:
        self.findings.append(self.finding(kind, where, name, object_id, principal_id, severity=severity,
                                          permission=permission))


@dataclass
class UploadPath:
    """One principal's path to the upload, and whether the stack expects it."""

    principal_id: str
    principal: str
    principal_type: str
    """``user``, ``group``, ``servicePrincipal``, or ``credential`` (a key of a service principal that owns one)."""
    path: str
    directness: str
    via: str
    """The role, permission or relation on the path's first edge (``owner``, ``Global Administrator``)."""
    target: str
    """What the edge reaches: UPLOAD, TENANT, PROVISIONING_APP, ``client:<key>``, or a principal's id."""
    object_id: str
    """The assignment, grant or owned object to remove."""
    status: str = FINDING

    def as_finding(self) -> Finding:
        return Finding("path", self.target, f"{self.principal} ({self.principal_type}): {self.path}", self.object_id,
                       self.principal_id, f"whoCanUpload > {self.directness} > {self.via}",
                       SEVERITY[self.directness])


@dataclass
class Audit:
    stack: str
    tenant_id: str | None
    generated_at: str
    sections: list[Section]
    paths: list[UploadPath] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sections for f in s.findings]

    @property
    def not_checked(self) -> list[NotChecked]:
        return [n for s in self.sections for n in s.not_checked]

    @property
    def unclassified(self) -> list[Finding]:
        return [f for s in self.sections for f in s.unclassified]

    def exit_status(self) -> int:
        """Findings first; then a read not made (incomplete, never clean); then outputs too old to classify."""
        if self.findings:
            return EXIT_FINDINGS
        if self.not_checked:
            return EXIT_INCOMPLETE
        return EXIT_UNCLASSIFIED if self.unclassified else EXIT_CLEAN

    def finding_dict(self, finding: Finding) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "kind": finding.kind, "where": finding.where, "name": finding.name, "objectId": finding.object_id,
            "principalId": finding.principal_id, "path": finding.path, "severity": finding.severity,
            "tenantId": self.tenant_id, "generatedAt": self.generated_at}
        if finding.permission is not None:
            shown["permission"] = finding.permission
        return shown

    def as_dict(self) -> dict[str, Any]:
        names = {p.principal_id: p.principal for p in self.paths}
        return {
            "stack": self.stack, "tenantId": self.tenant_id, "generatedAt": self.generated_at,
            "findings": len(self.findings), "exitStatus": self.exit_status(),
            "sections": [{
                "scope": s.scope, "title": s.title, "checked": list(dict.fromkeys(s.checked)),
                "notChecked": list(dict.fromkeys(str(n) for n in s.not_checked)),
                "findings": [self.finding_dict(f) for f in s.findings],
                "unclassified": [self.finding_dict(f) for f in s.unclassified],
            } for s in self.sections],
            "whoCanUpload": [{
                "principalId": p.principal_id, "principal": p.principal, "type": p.principal_type,
                "path": p.path, "howDirect": p.directness, "via": p.via, "target": p.target,
                "reaches": target_label(p.target, names), "objectId": p.object_id, "status": p.status,
                "severity": SEVERITY[p.directness] if p.status == FINDING else "none",
            } for p in self.paths],
        }
