"""make adopt in a stack that has deployed clients: their credentials are told apart by key id, never by name."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import GRAPH_ROLES, NOW, ROLE_ID
from tests.fake_graph import FakeCredential, FakeGraph, Tenant, assignment, graph_principal
from tools.adopt import adopt
from tools.stack import outputs as stack_outputs
from tools.stack.outputs import StackOutputError
from tools.tenant.ownership import NO_KEY_IDS

UPLOAD = "SynchronizationData-User.Upload"


def gid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"adopt-deployed-test/{name}"))


GRAPH = graph_principal(gid("graph"), GRAPH_ROLES)


def client_objects(display_name: str, *credentials: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    app = {"id": gid(f"{display_name}-app"), "appId": gid(f"{display_name}-client"), "displayName": display_name,
           "notes": None, "signInAudience": "AzureADMyOrg", "requiredResourceAccess": [],
           "passwordCredentials": [c for c in credentials if c.get("hint")],
           "keyCredentials": [c for c in credentials if not c.get("hint")]}
    sp = {"id": gid(f"{display_name}-sp"), "appId": app["appId"], "displayName": display_name,
          "servicePrincipalType": "Application", "accountEnabled": True, "passwordCredentials": [],
          "keyCredentials": []}
    return app, sp


def secret(name: str, key: str) -> dict[str, Any]:
    return {"displayName": name, "endDateTime": "2027-05-01T00:00:00Z", "hint": "Q7~", "keyId": gid(key)}


# Named as the program names its secrets and as Graph names an uploaded certificate: nothing in
# either name says which client, or which stack, they belong to.
HR_APP, HR_SP = client_objects("inbound-provisioning-access-dev-hr",
                               secret("renewal 2026-11-01 (managed by Pulumi)", "hr-current"),
                               secret("renewal 2026-08-03 (managed by Pulumi)", "hr-previous"))
PAYROLL_CERT = b"the payroll certificate (DER)"
CERT_APP, CERT_SP = client_objects("inbound-provisioning-access-dev-payroll",
                                   {"displayName": "CN=payroll", "endDateTime": "2027-11-01T00:00:00Z",
                                    "keyId": gid("payroll-cert"), "type": "AsymmetricX509Cert",
                                    "key": base64.b64encode(PAYROLL_CERT).decode()})
NEW_APP, NEW_SP = client_objects("HR new feed", secret("workday", "portal-secret"))

STACK_FILE = """\
config:
  inbound-provisioning-access:clients:
    hr:
      kind: servicePrincipal
      credential: {type: secret}
    payroll:
      kind: servicePrincipal
      credential: {type: certificate, generate: {subject: payroll}}
    new-feed:
      kind: servicePrincipal
      displayName: HR new feed
      credential: {type: secret}
"""


def tenant() -> Tenant:
    return Tenant(applications=[HR_APP, CERT_APP, NEW_APP], service_principals=[GRAPH, HR_SP, CERT_SP, NEW_SP],
                  assignments={sp["id"]: [assignment(gid(f"{sp['id']}-upload"), sp, GRAPH, ROLE_ID[UPLOAD])]
                               for sp in (HR_SP, CERT_SP, NEW_SP)})


def outputs(*, key_ids: bool = True) -> dict[str, Any]:
    """The deployed stack's outputs: hr and payroll are deployed, new-feed is being adopted."""
    def client(app: dict[str, Any], sp: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        shown: dict[str, Any] = {"kind": "servicePrincipal", "displayName": app["displayName"],
                                 "clientId": app["appId"], "servicePrincipalObjectId": sp["id"],
                                 "graphPermissions": [UPLOAD]}
        if key_ids:
            shown["credentialKeyIds"] = [gid(k) for k in keys]
            shown["credentials"] = [
                {"keyId": gid(k), "type": "certificate", "endDate": "2027-11-01T00:00:00Z",
                 "thumbprint": hashlib.sha1(PAYROLL_CERT, usedforsecurity=False).hexdigest().upper()}
                if k == "payroll-cert" else {"keyId": gid(k), "type": "secret", "endDate": "2027-05-01T00:00:00Z"}
                for k in keys]
        return shown
    return {"clients": {"hr": client(HR_APP, HR_SP, ["hr-current", "hr-previous"]),
                        "payroll": client(CERT_APP, CERT_SP, ["payroll-cert"])}}


def run(tmp_path: Path, graph: FakeGraph, stack_outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        ) -> tuple[int, str]:
    """make adopt as a user runs it: the outputs come from the Pulumi CLI (here, a stand-in)."""
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_FILE)
    monkeypatch.setattr(adopt, "pulumi_stack_output", lambda stack, extra=(): stack_outputs, raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file)], credential=FakeCredential(),
                      transport=graph, out=out, err=err, now=NOW)
    return code, out.getvalue() + err.getvalue()


def test_adopting_a_new_client_never_advises_retiring_the_deployed_clients_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = run(tmp_path, FakeGraph(tenant()), outputs(), monkeypatch)
    assert code == 0, text
    retire = [line for line in text.splitlines() if "retire" in line]
    assert len(retire) == 1, retire
    assert "secret 'workday'" in retire[0]  # the new client's portal secret, and only that
    assert "renewal" not in "".join(retire)
    assert "CN=payroll" not in "".join(retire)
    block = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    assert list(block) == ["new-feed"]  # the deployed clients are not imported again
    assert "hr (servicePrincipal): deployed by this stack" in text


def test_outputs_without_key_ids_never_advise_retiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = run(tmp_path, FakeGraph(tenant()), outputs(key_ids=False), monkeypatch)
    assert code == 0, text
    assert [line for line in text.splitlines() if "retire" in line and "workday" not in line] == []
    assert NO_KEY_IDS in text


def test_a_deployed_client_gets_what_the_audit_finds_and_the_grant_to_adopt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph_tenant = tenant()
    graph_tenant.applications[0]["passwordCredentials"].append(secret("added in the portal", "portal-hr"))
    logs = assignment(gid("hr-logs"), HR_SP, GRAPH, ROLE_ID["ProvisioningLog.Read.All"])
    graph_tenant.assignments[HR_SP["id"]].append(logs)
    code, text = run(tmp_path, FakeGraph(graph_tenant), outputs(), monkeypatch)
    assert code == 0, text
    assert (f"make audit finds: secret on the app registration: 'added in the portal', expires 2027-05-01 "
            f"({gid('portal-hr')})") in text
    assert "add it to clients.hr.graphPermissions" in text
    block = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    assert block["hr"] == {"adopt": {"application": HR_APP["id"], "servicePrincipal": HR_SP["id"],
                                     "grants": {"ProvisioningLog.Read.All": gid("hr-logs")}}}


def test_a_stack_the_backend_does_not_know_made_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_stack(stack: str, extra: Any = ()) -> Any:
        raise StackOutputError("pulumi stack output failed: error: no stack named 'dev' found")
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_FILE)
    monkeypatch.setattr(adopt, "pulumi_stack_output", no_stack)
    out, err = io.StringIO(), io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file)], credential=FakeCredential(),
                      transport=FakeGraph(tenant()), out=out, err=err, now=NOW)
    assert code == 0, err.getvalue()
    assert "retire once the HR client uses this stack's credential" in out.getvalue()


def no_cli(stack: str, extra: Any = ()) -> Any:
    raise StackOutputError("the Pulumi CLI is not on PATH")


def test_outputs_that_cannot_be_read_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_FILE)
    monkeypatch.setattr(adopt, "pulumi_stack_output", no_cli)
    monkeypatch.setenv("PULUMI_BACKEND_URL", "azblob://state")  # another backend: only the CLI can tell
    err = io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file)], credential=FakeCredential(),
                      transport=FakeGraph(tenant()), out=io.StringIO(), err=err, now=NOW)
    assert code == adopt.EXIT_ACCESS
    assert "give --outputs FILE (`pulumi stack output --json`), or --new-stack if new" in \
        err.getvalue()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file), "--new-stack"], credential=FakeCredential(),
                      transport=FakeGraph(tenant()), out=io.StringIO(), err=err, now=NOW)
    assert code == 0


def test_a_never_deployed_stack_needs_no_cli_and_no_outputs_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """The README's first step, before any deploy: `make adopt STACK=dev` with only `az login`."""
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_FILE)
    monkeypatch.setattr(adopt, "pulumi_stack_output", no_cli)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.setattr(stack_outputs, "LOCAL_STATE", tmp_path / ".pulumi-state")
    out, err = io.StringIO(), io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file)], credential=FakeCredential(),
                      transport=FakeGraph(tenant()), out=out, err=err, now=NOW)
    assert code == 0, err.getvalue()
    assert "retire once the HR client uses this stack's credential" in out.getvalue()
    checkpoint = tmp_path / ".pulumi-state" / ".pulumi" / "stacks" / "inbound-provisioning-access" / "dev.json"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text("{}")
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file)], credential=FakeCredential(),
                      transport=FakeGraph(tenant()), out=io.StringIO(), err=err, now=NOW)
    assert code == adopt.EXIT_ACCESS, "deployed here: its credentials must be told apart by the outputs' key ids"


def test_an_outputs_file_that_is_not_a_json_object_is_one_line_and_exit_2(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_FILE)
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text("[1]")
    err = io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file), "--outputs", str(outputs_file)],
                      credential=FakeCredential(), transport=FakeGraph(tenant()), out=io.StringIO(), err=err, now=NOW)
    assert code == adopt.EXIT_ACCESS
    assert "not a JSON object" in err.getvalue()
    assert "Traceback" not in err.getvalue()
