"""What the audit tests share: a stack's outputs, the tenant exactly as it declared them, and one audit run.

Objects are plain dicts as Microsoft Graph returns them (``tests/fake_graph.py`` serves them);
ids are GUIDs made from names, so a test reads ``gid("alice")`` for Alice's object id.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import GRAPH_ROLES, ROLE_ID
from tests.fake_graph import TOKEN, FakeCredential, FakeGraph, Tenant, assignment, graph_principal
from tools.audit import audit

UPLOAD, OWNED_BY, LOGS = ("SynchronizationData-User.Upload", "SynchronizationData-User.Upload.OwnedBy",
                          "ProvisioningLog.Read.All")
SECRET_HINT = "Q7~"  # Graph's hint: the first characters of a secret; never to be printed
NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)


def gid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"audit-test/{name}"))


GRAPH = graph_principal(gid("graph"), GRAPH_ROLES)
OTHER_API = {"id": gid("other-api"), "appId": gid("other-api-app"), "displayName": "Payroll API",
             "servicePrincipalType": "Application", "accountEnabled": True}


def principal(name: str, kind: str = "Application", **extra: Any) -> dict[str, Any]:
    return {"id": gid(f"{name}-sp"), "appId": gid(f"{name}-client"), "displayName": name,
            "servicePrincipalType": kind, "accountEnabled": True, "passwordCredentials": [], "keyCredentials": [],
            **extra}


def user(name: str) -> dict[str, Any]:
    return {"id": gid(name), "displayName": name.title(), "userPrincipalName": f"{name}@contoso.example"}


def secret(name: str, key: str, end: str = "2027-05-01T00:00:00Z") -> dict[str, Any]:
    return {"customKeyIdentifier": None, "displayName": name, "endDateTime": end, "hint": SECRET_HINT,
            "keyId": gid(key), "secretText": None, "startDateTime": "2026-11-01T00:00:00Z"}


def der(name: str) -> bytes:
    """Stands in for a certificate's DER bytes: the audit only hashes them into a thumbprint."""
    return f"certificate {name}".encode()


def thumbprint(name: str) -> str:
    return hashlib.sha1(der(name), usedforsecurity=False).hexdigest().upper()


def certificate(subject: str, key: str, end: str = "2027-11-01T00:00:00Z") -> dict[str, Any]:
    # customKeyIdentifier is the caller's choice: the audit reads the thumbprint from `key`, the certificate.
    return {"customKeyIdentifier": "AB12", "displayName": f"CN={subject}", "endDateTime": end,
            "keyId": gid(key), "type": "AsymmetricX509Cert", "usage": "Verify",
            "key": base64.b64encode(der(subject)).decode()}


HR = principal("HR middleware")
LOGIC = principal("CSV2SCIMBulkUpload", "ManagedIdentity",
                  # Azure's own key on every managed identity: never the stack's, never a finding.
                  keyCredentials=[certificate("azure-managed", "mi-key")])
OWNER_CLIENT = principal("HR owned-by client")
PROVISIONING = principal("API-driven provisioning to Microsoft Entra ID")


def application(sp: dict[str, Any], *credentials: dict[str, Any]) -> dict[str, Any]:
    return {"id": gid(f"{sp['displayName']}-app"), "appId": sp["appId"], "displayName": sp["displayName"],
            "passwordCredentials": [c for c in credentials if "hint" in c],
            "keyCredentials": [c for c in credentials if "hint" not in c]}


HR_SECRETS = (secret("renewal 2026-11-01 (managed by Pulumi)", "hr-secret"),
              secret("renewal 2026-08-01 (managed by Pulumi)", "hr-secret-previous", "2027-02-01T00:00:00Z"))
OWNER_CERT = certificate("hr-owned-by", "owner-cert")
HR_APP = application(HR, *HR_SECRETS)
OWNER_APP = application(OWNER_CLIENT, OWNER_CERT)
PROVISIONING_APP = application(PROVISIONING)
FIC = {"id": gid("hr-fic"), "name": "github-prod", "issuer": "https://token.actions.githubusercontent.com",
       "subject": "repo:contoso/hr:environment:prod", "audiences": ["api://AzureADTokenExchange"]}


def outputs() -> dict[str, Any]:
    """`pulumi stack output --json`, non-secret part, as the stack writes it."""
    def client(sp: dict[str, Any], kind: str, permissions: list[str],
               credentials: list[dict[str, Any]] | None) -> dict[str, Any]:
        shown: dict[str, Any] = {"kind": kind, "displayName": sp["displayName"], "clientId": sp["appId"],
                                 "servicePrincipalObjectId": sp["id"], "graphPermissions": permissions}
        if credentials is not None:
            shown["credentialKeyIds"] = [c["keyId"] for c in credentials]
            shown["credentials"] = credentials
        return shown
    hr = [{"keyId": s["keyId"], "type": "secret", "endDate": s["endDateTime"]} for s in HR_SECRETS]
    hr.append({"keyId": FIC["id"], "type": "federated", "issuer": FIC["issuer"], "subject": FIC["subject"],
               "audiences": FIC["audiences"]})
    owned_by = [{"keyId": OWNER_CERT["keyId"], "type": "certificate", "thumbprint": thumbprint("hr-owned-by"),
                 "endDate": OWNER_CERT["endDateTime"]}]
    return {
        "tenantId": gid("tenant"),
        "clients": {
            "hr-middleware": client(HR, "servicePrincipal", [UPLOAD], hr),
            "csv-logic-app": client(LOGIC, "managedIdentity", [UPLOAD, LOGS], None),
            "owned-by": client(OWNER_CLIENT, "servicePrincipal", [OWNED_BY], owned_by),
        },
        "clientCredentials": "[secret]",
        "provisioningAppServicePrincipalId": PROVISIONING["id"],
        "provisioningJobId": f"API2AAD.0123456789abcdef0123456789abcdef.{gid('tenant')}",
    }


def holds(sp: dict[str, Any], *permissions: str) -> list[dict[str, Any]]:
    """App role assignments on Microsoft Graph, one per permission."""
    return [assignment(gid(f"{sp['displayName']}-{p}"), sp, GRAPH, ROLE_ID[p]) for p in permissions]


def as_owner(sp_or_user: dict[str, Any]) -> dict[str, Any]:
    kind = "servicePrincipal" if "servicePrincipalType" in sp_or_user else "user"
    return {"@odata.type": f"#microsoft.graph.{kind}", **{k: v for k, v in sp_or_user.items() if k in (
        "id", "displayName", "userPrincipalName", "appId")}}


def clean_tenant() -> Tenant:
    """The tenant exactly as the stack declared it (a fresh copy; Graph's 716 app roles shared, never changed)."""
    return copy.deepcopy(Tenant(
        applications=[HR_APP, OWNER_APP, PROVISIONING_APP],
        service_principals=[GRAPH, OTHER_API, HR, LOGIC, OWNER_CLIENT, PROVISIONING],
        assignments={HR["id"]: holds(HR, UPLOAD), LOGIC["id"]: holds(LOGIC, UPLOAD, LOGS),
                     OWNER_CLIENT["id"]: holds(OWNER_CLIENT, OWNED_BY)},
        owners={PROVISIONING_APP["id"]: [as_owner(OWNER_CLIENT)]},
        federated={HR_APP["id"]: [FIC]},
    ), {id(GRAPH): GRAPH})


CREATED_APP = """\
config:
  inbound-provisioning-access:provisioningApp:
    create:
      displayName: API-driven provisioning to Microsoft Entra ID
      notificationEmail: hr-it@contoso.example
"""


@dataclass
class Run:
    """One audit run: its exit status, what it printed, and what Graph was asked."""

    code: int
    out: str
    err: str
    graph: FakeGraph
    summary: str = ""

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads(self.out))

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [dict(f, scope=s["scope"]) for s in self.report["sections"] for f in s["findings"]]


def run(folder: Path, tenant: Tenant, *extra: str, stack_outputs: dict[str, Any] | None = None,
        graph: FakeGraph | None = None, sleeps: list[float] | None = None, stack_file: str = CREATED_APP,
        summary: bool = False) -> Run:
    """``make audit`` on ``tenant`` with the stack's ``outputs()`` (or ``stack_outputs``) and ``stack_file``."""
    folder.mkdir(parents=True, exist_ok=True)
    outputs_file, config_file, summary_file = folder / "dev.outputs.json", folder / "Pulumi.dev.yaml", folder / "s.md"
    outputs_file.write_text(json.dumps(outputs() if stack_outputs is None else stack_outputs))
    config_file.write_text(stack_file)
    summary_file.write_text("")
    graph = graph or FakeGraph(tenant)
    out, err = io.StringIO(), io.StringIO()
    args = ["--stack", "dev", "--outputs", str(outputs_file), "--config-file", str(config_file), *extra]
    code = audit.main([*args, *(["--summary", str(summary_file)] if summary else [])], credential=FakeCredential(),
                      transport=graph, out=out, err=err, sleep=(sleeps if sleeps is not None else []).append, now=NOW)
    done = Run(code, out.getvalue(), err.getvalue(), graph, summary_file.read_text())
    for text in (done.out, done.err, done.summary):
        assert SECRET_HINT not in text
        assert TOKEN not in text
    return done
