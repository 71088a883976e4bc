"""The whole program as ``pulumi up`` runs it: outputs, secretness, shipped project and stack files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.microsoft import DEFAULT_PERMISSIONS
from tests.conftest import PROJECT_SCHEMA, ROOT, RunProgram, secret_client
from tools.offline.entra import OfflineEntra


def stack_config(path: Path) -> dict[str, Any]:
    """A Pulumi.<stack>.yaml's keys in this project's namespace, as the CLI hands them to the program."""
    config = yaml.safe_load(path.read_text())["config"]
    prefix = "inbound-provisioning-access:"
    return {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}


def test_outputs_match_the_spec(run_program: RunProgram, entra: OfflineEntra) -> None:
    run = run_program({"clients": {"hr-sync": secret_client(lifetimeDays=60)}})
    tenant = entra.tenant_id
    assert run.outputs["tenantId"] == tenant
    assert run.outputs["tokenEndpoint"] == f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    assert run.outputs["graphScope"] == "https://graph.microsoft.com/.default"
    client = run.outputs["clients"]["hr-sync"]
    assert set(client) == {"kind", "displayName", "clientId", "servicePrincipalObjectId", "graphPermissions",
                           "credentialType", "credentialExpiresAt", "credentialRenewsAt", "credentialKeyIds",
                           "credentials", "renewal"}
    assert client["kind"] == "servicePrincipal"
    assert client["credentialType"] == "secret"
    assert client["graphPermissions"] == list(DEFAULT_PERMISSIONS)
    assert client["clientId"] == run.named("hr-sync-sp").inputs["clientId"]
    (password,) = [r for r in run.registrations if r.type.endswith("ApplicationPassword")]
    assert client["credentialKeyIds"] == [client["renewal"]["handedOut"]["keyId"]], "the one secret it keeps"
    assert client["renewal"]["handedOut"]["generation"] == password.name.rsplit("-", 1)[-1]
    secret = run.outputs["clientCredentials"]["hr-sync"]["clientSecret"]
    assert secret.startswith("mock-secret-value-")
    assert "bulkUploadUrl" not in run.outputs, "no provisioning app configured"


def test_only_client_credentials_is_secret_and_holds_the_only_secret(run_program: RunProgram) -> None:
    run = run_program({"clients": {"a": secret_client(), "b": secret_client(rotationDays=30, lifetimeDays=90)}})
    assert run.secret_outputs == {"clientCredentials"}
    secrets = [v["clientSecret"] for v in run.outputs["clientCredentials"].values()]
    assert len(secrets) == 2
    plain = json.dumps({k: v for k, v in run.outputs.items() if k not in run.secret_outputs})
    for secret in secrets:
        assert secret not in plain
    assert not any(secret in message for secret in secrets for _, message in run.logs)


def test_project_file_validates_against_pulumis_schema() -> None:
    schema = json.loads(PROJECT_SCHEMA.read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(project)
    assert project["name"] == "inbound-provisioning-access"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    declared = project["config"]
    assert declared["graphPermissions"]["default"] == list(DEFAULT_PERMISSIONS)
    assert all(d.get("description") for d in declared.values())


def test_schema_check_can_fail() -> None:
    schema = json.loads(PROJECT_SCHEMA.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"name": "x", "runtime": "python",
                                                          "config": {"k": {"type": "object"}}})


@pytest.mark.parametrize("stack_file", sorted(ROOT.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_shipped_stacks_run_clean(run_program: RunProgram, entra: OfflineEntra, stack_file: Path) -> None:
    stack = stack_file.name.split(".")[1]
    run = run_program(stack_config(stack_file), stack=stack)
    assert run.graph_lookups == 1
    assert run.outputs["clients"], "every shipped stack configures at least one client"
    assert [m for level, m in run.logs if level == "error"] == []
    grants = run.of_type("azuread:index/appRoleAssignment:AppRoleAssignment")
    assert grants
    assert all(g.inputs["resourceObjectId"] == entra.graph_object_id for g in grants)


def test_main_is_short_wiring() -> None:
    code = [line for line in (ROOT / "__main__.py").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", '"""', "import", "from"))]
    assert len(code) <= 5, code
