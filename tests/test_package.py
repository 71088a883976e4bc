"""The component package: its schema (inferred in-process, valid, checked in), the YAML example, and construct.

Construct is tested through the provider's own path below the gRPC server: the args are
serialized to the protobuf ``Struct`` another language's SDK sends (every number a float),
turned back into inputs by the server's ``_construct_inputs``, handed to the component provider's
``construct`` (schema names mapped, the component built) under the mock engine, and its state
serialized by the server's ``_construct_response``.  The server's ``Construct`` itself first
points the runtime at the engine's monitor address, which would replace the mock engine.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
import yaml
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.server import ComponentInitError, ProviderServicer
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from components import access, package
from components.managed_identity import ManagedIdentityClient
from components.provisioning_app import ProvisioningApp
from components.service_principal_client import ServicePrincipalClient
from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tests.conftest import FIXTURES, GRAPH_ROLES, LOGIC_APP, NOW, PROJECT_SCHEMA, ROOT, SHARED, RunProgram
from tools import schema as schema_tool
from tools.offline.deploys import DeploySimulation
from tools.offline.entra import OfflineEntra
from tools.offline.run import LAST_RUN, ProgramRun, run_offline

METASCHEMA = FIXTURES / "pulumi-package.schema.json"
EXAMPLE = ROOT / "examples" / "yaml" / "Pulumi.yaml"
TYPE = "inbound-provisioning-access:index:InboundProvisioningAccess"


# -- the schema ---------------------------------------------------------------------------------------


def python_patterns(node: Any) -> Any:
    """The metaschema with its ECMAScript named groups ``(?<name>`` spelled as Python's ``(?P<name>``."""
    if isinstance(node, dict):
        return {k: (re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", v) if k == "pattern" and isinstance(v, str)
                    else python_patterns(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [python_patterns(v) for v in node]
    return node


def metaschema_validator() -> jsonschema.Draft202012Validator:
    metaschema = json.loads(METASCHEMA.read_text())
    assert metaschema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    converted = python_patterns(metaschema)
    # The "regex" format is ECMAScript too: check it with Python's spelling.
    formats = jsonschema.FormatChecker()

    @formats.checks("regex", raises=re.error)
    def _regex(value: object) -> bool:
        return not isinstance(value, str) or bool(re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", value)))

    jsonschema.Draft202012Validator.check_schema(converted)
    return jsonschema.Draft202012Validator(converted, format_checker=formats)


def test_the_metaschema_uses_ecmascript_named_groups_python_cannot_compile() -> None:
    patterns = re.findall(r'"pattern": "([^"]*\(\?<[A-Za-z][^"]*)"', METASCHEMA.read_text())
    assert patterns, "the conversion above has something to convert"
    with pytest.raises(re.error):
        re.compile(json.loads(f'"{patterns[0]}"'))


def test_the_schema_validates_against_pulumis_package_metaschema() -> None:
    metaschema_validator().validate(package.schema())


@pytest.mark.parametrize("breakage", [
    lambda s: s.update(name="Inbound Provisioning"),
    lambda s: s.update(version="first"),
    lambda s: s["resources"][TYPE]["inputProperties"]["protect"].update(type="yes-or-no"),
    lambda s: s["resources"].update({"not a token": {}}),
], ids=["name", "version", "property-type", "resource-token"])
def test_the_metaschema_check_can_fail(breakage: Any) -> None:
    broken = copy.deepcopy(package.schema())
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        metaschema_validator().validate(broken)


def test_schema_json_is_what_the_code_infers() -> None:
    assert package.SCHEMA_FILE.read_text() == package.schema_text(), "run `make schema` and commit schema.json"
    assert schema_tool.main(["--check"]) == 0


def test_the_schema_check_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text(package.schema_text().replace("The Entra tenant id.", "The tenant."))
    monkeypatch.setattr(schema_tool, "SCHEMA_FILE", stale)
    assert schema_tool.main(["--check"]) == 1
    assert schema_tool.main([]) == 0
    assert stale.read_text() == package.schema_text()


def test_the_schema_mirrors_the_stack_config_and_outputs() -> None:
    schema = package.schema()
    assert schema["name"] == "inbound-provisioning-access"
    assert schema["version"] == package.VERSION
    resource = schema["resources"][TYPE]
    assert resource["isComponent"] is True
    assert set(resource["inputProperties"]) == {"clients", "graphPermissions", "protect", "provisioningApp",
                                                "trustedPrincipals", "renewalLedger"}
    assert "plain" not in resource["inputProperties"]["renewalLedger"], "a StackReference's output may be passed"
    assert set(resource["properties"]) == {
        "tenantId", "tokenEndpoint", "graphScope", "clients", "clientCredentials", "renewalLedger", "bulkUploadUrl",
        "provisioningLogsUrl", "provisioningAppServicePrincipalId", "provisioningJobId"}
    assert set(resource["required"]) == {"tenantId", "tokenEndpoint", "graphScope", "clients", "clientCredentials",
                                         "renewalLedger"}
    assert resource["requiredInputs"] == [], "missing values are reported by the config checks, all at once"
    types = schema["types"]
    credential = types["inbound-provisioning-access:index:CredentialArgs"]["properties"]
    assert credential["type"]["type"] == "string", "one object with a type field, no union"
    # Plain where a value must be known to validate or name resources; an input where another
    # resource's output belongs.
    assert resource["inputProperties"]["clients"]["plain"] is True
    existing = types["inbound-provisioning-access:index:ExistingIdentityArgs"]["properties"]
    assert "plain" not in existing["objectId"]
    assert existing["displayName"]["plain"] is True
    described = [(name, prop) for t in types.values() for name, prop in t.get("properties", {}).items()]
    described += list(resource["inputProperties"].items()) + list(resource["properties"].items())
    assert [name for name, prop in described if not prop.get("description")] == []


@pytest.mark.parametrize("block", [ServicePrincipalClient, ManagedIdentityClient, ProvisioningApp])
def test_the_building_blocks_args_cannot_be_inferred(block: type[pulumi.ComponentResource]) -> None:
    """Why the package exports only InboundProvisioningAccess (components/package.py): when a block
    becomes expressible, this fails, and the block belongs in COMPONENTS."""
    with pytest.raises(Exception):  # noqa: B017, PT011 (the analyzer raises several kinds)
        Analyzer(package.NAME).analyze([block])


def test_the_plugin_entry_point_finds_the_components() -> None:
    """What the Python host runs, short of serving: its path set-up and imports work from the repository."""
    namespace = runpy.run_path(str(ROOT / "package" / "__main__.py"), run_name="plugin-import-check")
    assert namespace["COMPONENTS"] == package.COMPONENTS
    assert namespace["NAME"] == package.NAME
    manifest = yaml.safe_load((ROOT / "package" / "PulumiPlugin.yaml").read_text())
    assert manifest == {"runtime": "python"}


def test_the_metaschema_fixture_matches_the_shared_copy() -> None:
    shared = SHARED / "schemas" / "pulumi-package.schema.json"
    if not shared.exists():
        pytest.skip(f"no shared copy at {shared} (a clone outside the team's workspace)")
    assert METASCHEMA.read_bytes() == shared.read_bytes()


# -- the YAML example -------------------------------------------------------------------------------


def example_problems(program: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Every resource type, property and output reference of a Pulumi YAML program the schema does not have."""
    problems: list[str] = []
    names: dict[str, dict[str, Any]] = {}
    for name, resource in program.get("resources", {}).items():
        token = resource["type"]
        if token.count(":") == 1:  # YAML's short form for the index module
            token = token.replace(":", ":index:")
        if not token.startswith(f"{schema['name']}:"):
            continue
        if token not in schema["resources"]:
            problems.append(f"{name}: no resource type {resource['type']}")
            continue
        names[name] = schema["resources"][token]
        spec = names[name]
        problems += _check_object(resource.get("properties", {}), spec["inputProperties"],
                                  spec.get("requiredInputs", []), schema, name)
    for output, expression in program.get("outputs", {}).items():
        for ref, prop in re.findall(r"\$\{([\w-]+)\.(\w+)", str(expression)):
            if ref in names and prop not in names[ref]["properties"]:
                problems.append(f"outputs.{output}: {ref} has no output {prop}")
    return problems


def _check_object(value: Any, properties: dict[str, Any], required: list[str], schema: dict[str, Any],
                  path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object"]
    problems = [f"{path}.{key}: required" for key in required if key not in value]
    for key, item in value.items():
        if key not in properties:
            problems.append(f"{path}.{key}: no such property")
        else:
            problems += _check_value(item, properties[key], schema, f"{path}.{key}")
    return problems


def _check_value(value: Any, prop: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    if isinstance(value, str) and value.startswith("${"):
        return []  # an expression: its type is the referenced output's
    if "$ref" in prop:
        ref = schema["types"][prop["$ref"].removeprefix("#/types/")]
        return _check_object(value, ref.get("properties", {}), ref.get("required", []), schema, path)
    kind = prop.get("type")
    python: dict[str, type | tuple[type, ...]] = {
        "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}
    if (kind and not isinstance(value, python[kind])) or (kind == "integer" and isinstance(value, bool)):
        return [f"{path}: expected {kind}, got {value!r}"]
    if kind == "array":
        return [p for i, item in enumerate(value) for p in _check_value(item, prop["items"], schema, f"{path}[{i}]")]
    if kind == "object" and "additionalProperties" in prop:
        return [p for k, item in value.items()
                for p in _check_value(item, prop["additionalProperties"], schema, f"{path}.{k}")]
    return []


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return loaded


def test_the_yaml_example_uses_only_what_the_schema_has() -> None:
    program = example()
    assert program["runtime"] == "yaml"
    jsonschema.Draft202012Validator(json.loads(PROJECT_SCHEMA.read_text())).validate(program)
    assert [r["type"] for r in program["resources"].values()] == [TYPE]
    assert example_problems(program, package.schema()) == []


def test_the_package_page_shows_the_example_and_the_command() -> None:
    page = (ROOT / "docs" / "package.md").read_text()
    section = page.split("\n## ", 1)[0]
    shown = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert shown["resources"] == example()["resources"]
    assert f"pulumi package add https://github.com/<owner>/inbound-provisioning-access/package@v{package.VERSION}" \
        in section


@pytest.mark.parametrize(("path", "value", "problem"), [
    (("clients", "hr-sync", "credential", "lifetime"), 90, "access.clients.hr-sync.credential.lifetime: no such"),
    (("clients", "hr-sync", "kind"), ["servicePrincipal"], "access.clients.hr-sync.kind: expected string"),
    (("protect",), "no", "access.protect: expected boolean"),
    (("provisioningApp", "create", "notificationEmail"), 7, "notificationEmail: expected string"),
], ids=["unknown-property", "array-for-string", "string-for-bool", "nested-type"])
def test_the_example_check_can_fail(path: tuple[str, ...], value: Any, problem: str) -> None:
    program = example()
    node = program["resources"]["access"]["properties"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert [p for p in example_problems(program, package.schema()) if problem in p]


def test_the_example_is_valid_config(run_program: RunProgram) -> None:
    properties = example()["resources"]["access"]["properties"]
    parse_settings(properties, "dev", NOW)
    run = run_program(properties)
    assert set(run.outputs["clients"]) == {"hr-sync", "csv-logic-app"}
    assert "bulkUploadUrl" in run.outputs


# -- construct, as another language calls it ---------------------------------------------------------


def as_wire(value: Any) -> Any:
    """Args as another language's SDK sends them: JSON numbers, so every integer a float."""
    if isinstance(value, dict):
        return {k: as_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_wire(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


CONSTRUCTED: dict[str, Any] = {}


def construct_program(args: dict[str, Any]) -> Any:
    def program() -> None:
        provider = package.provider()
        servicer = ProviderServicer(provider, [], "")
        struct = _sync_await(rpc.serialize_properties(as_wire(args), {}))
        inputs = _sync_await(ProviderServicer._construct_inputs(struct, {}))
        result = provider.construct("access", TYPE, inputs, pulumi.ResourceOptions())
        CONSTRUCTED["response"] = _sync_await(servicer._construct_response(result))
        for name, value in result.state.items():
            pulumi.export(name, value)

    return program


GRAPH_ROLES_SLICE = [r for r in GRAPH_ROLES
                     if r["value"].startswith(("SynchronizationData", "AuditLog", "Provisioning"))]
ARGS: dict[str, Any] = {
    "clients": {
        "hr-sync": {"kind": "servicePrincipal",
                    "credential": {"type": "secret", "lifetimeDays": 90, "rotationDays": 30}},
        "logic-app": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}},
    },
    "graphPermissions": ["SynchronizationData-User.Upload", "ProvisioningLog.Read.All"],
    "protect": True,
}


@pytest.fixture
def constructed(entra: OfflineEntra, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProgramRun]:
    # One clock for construct and the stack program: renewal dates come from the deploy's time.
    monkeypatch.setattr(access, "current_time", lambda: NOW)
    CONSTRUCTED.clear()
    yield run_offline(entra, {}, "dev", program=construct_program(ARGS))
    CONSTRUCTED.clear()


def test_construct_builds_what_the_stack_program_builds(constructed: ProgramRun, entra: OfflineEntra) -> None:
    stack = run_offline(entra, ARGS, "dev")
    assert constructed.outputs == stack.outputs
    def registered(run: ProgramRun) -> list[tuple[str, str, bool]]:
        return sorted((r.type, r.name, r.protect) for r in run.registrations if r.type != TYPE)

    assert registered(constructed) == registered(stack)
    (component,) = constructed.of_type(TYPE)
    assert {r.parent for r in constructed.registrations if r.name in ARGS["clients"]} == {component.urn}
    hr = constructed.outputs["clients"]["hr-sync"]
    assert hr["credentialType"] == "secret"
    renews = dt.datetime.fromisoformat(hr["credentialRenewsAt"])
    assert (renews - NOW) <= dt.timedelta(days=30), "rotationDays arrived as 30.0 and was used as 30"


def test_construct_keeps_the_credentials_secret_on_the_wire(constructed: ProgramRun) -> None:
    assert constructed.secret_outputs == {"clientCredentials"}
    state = rpc.deserialize_properties(CONSTRUCTED["response"].state, keep_unknowns=True, keep_internal=True)
    assert rpc.is_rpc_secret(state["clientCredentials"])
    assert not rpc.is_rpc_secret(state["clients"])
    secret = constructed.outputs["clientCredentials"]["hr-sync"]["clientSecret"]
    assert secret not in json.dumps({k: v for k, v in state.items() if k != "clientCredentials"})


def test_construct_refuses_bad_args_with_the_configs_error(entra: OfflineEntra) -> None:
    bad = {"clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 2}}},
           "graphPermissions": ["Directory.ReadWrite.All"]}
    with pytest.raises(SettingsError) as expected:
        parse_settings(bad, "dev", NOW)
    with pytest.raises(ComponentInitError) as caught:
        run_offline(entra, {}, "dev", program=construct_program(bad))
    assert isinstance(caught.value.inner, SettingsError)
    assert str(caught.value.inner) == str(expected.value)
    assert LAST_RUN[0].registrations == []


def test_the_schema_describes_every_output_field_the_stack_gives(run_program: RunProgram) -> None:
    """Typed consumers get a field for everything a client's outputs hold, secret material included."""
    schema = json.loads((ROOT / "schema.json").read_text())["types"]
    run = run_program({"clients": {
        "secret": {"kind": "servicePrincipal", "credential": {"type": "secret"}},
        "generated": {"kind": "servicePrincipal", "credential": {"type": "certificate",
                                                                 "generate": {"subject": "hr"}}},
        "logic": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}},
    }})
    credential_fields = set(schema["inbound-provisioning-access:index:ClientCredentialOutput"]["properties"])
    client_fields = set(schema["inbound-provisioning-access:index:ClientOutput"]["properties"])
    for key, material in run.outputs["clientCredentials"].items():
        assert set(material) <= credential_fields, key
    for key, shown in run.outputs["clients"].items():
        assert set(shown) <= client_fields, key
    assert {"certificatePem", "privateKeyPem"} <= credential_fields


def test_construct_reads_the_renewal_ledger_it_is_handed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another language's consumer exports the component's clients as ``hrAccess`` and hands that
    output of its own last deploy back as ``renewalLedger``: renewal keeps its promise through the wire."""
    clock = [NOW]
    monkeypatch.setattr(access, "current_time", lambda: clock[0])
    args = {"clients": {"hr-sync": ARGS["clients"]["hr-sync"]}}

    def consumer() -> None:
        own = pulumi.StackReference(f"organization/{pulumi.get_project()}/{pulumi.get_stack()}")
        provider = package.provider()
        struct = _sync_await(rpc.serialize_properties(
            {**as_wire(args), "renewalLedger": own.get_output("hrAccess")}, {}))
        inputs = _sync_await(ProviderServicer._construct_inputs(struct, {}))
        result = provider.construct("access", TYPE, inputs, pulumi.ResourceOptions())
        pulumi.export("hrAccess", result.state["clients"])

    simulation = DeploySimulation(GRAPH_ROLES_SLICE)
    handed = []
    for days in (0, 7, 35, 42, 50):
        clock[0] = NOW + dt.timedelta(days=days)
        deploy = simulation.up({}, clock[0], program=consumer)
        ledger = deploy.run.outputs["hrAccess"]["hr-sync"]["renewal"]
        handed.append(ledger["handedOut"]["generation"])
        if days == 7:
            assert deploy.changes == [], "it read the ledger it was handed: nothing due"
        if days == 35:
            assert ledger["superseded"]["generation"] == handed[0], "renewed, the one in use kept 14 days"
        assert len(simulation.credentials("hr-sync")) <= 2
    assert handed == [handed[0]] * 2 + [handed[2]] * 3
    assert len(simulation.credentials("hr-sync")) == 1, "the superseded one went after its 14 days"
