"""make plan: the offline access plan, on every shipped stack file and on a broken one."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
import tempfile
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from components.microsoft import ALLOWED_PERMISSIONS
from components.settings.problems import SettingsError
from components.settings.stack_config import decode_config_text
from tests.conftest import GRAPH_ROLES, ROLE_ID, ROOT, RunProgram
from tests.plan.helpers import section, table
from tools.offline.entra import OfflineEntra
from tools.offline.run import program_at, run_offline
from tools.plan import plan
from tools.stack.stack_file import read_stack_file

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))


def write_stack_file(tmp_path: Path, stack: str, config: dict[str, Any]) -> Path:
    """A Pulumi.<stack>.yaml with these keys in this project's namespace."""
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"inbound-provisioning-access:{k}": v for k, v in config.items()}}))
    return path


def run_plan(stack: str, path: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(["--stack", stack, "--config-file", str(path), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@functools.cache
def shipped_plan(stack: str) -> tuple[int, str, str]:
    """The plan of a shipped ``Pulumi.<stack>.yaml``, run once per test process for every test that reads it."""
    return run_plan(stack, ROOT / f"Pulumi.{stack}.yaml")


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_plan_of_every_shipped_stack(stack_file: Path) -> None:
    stack = stack_file.name.split(".")[1]
    code, text, err = shipped_plan(stack)
    assert code == 0, err
    assert text.startswith(f"# Access plan: stack `{stack}`")
    assert "Nothing was read from or written to a tenant" in text
    grants = [row for row in table(text, "## Access") if row[2].startswith("Graph permission ")]
    assert grants
    for row in grants:
        permission = row[2].removeprefix("Graph permission ")
        assert permission in ALLOWED_PERMISSIONS
        assert row[3] == f"`{ROLE_ID[permission]}` (planned role id)"
    assert "## Resources the stack manages" in text
    assert "mock-secret" not in text
    assert "looked-up-on-deploy" not in text, "placeholder ids are never shown as real"


def test_prod_plan_has_no_plain_secret_and_is_protected() -> None:
    code, text, _ = shipped_plan("prod")
    assert code == 0
    assert "`protect` is **on**" in text
    assert "applicationPassword" not in text
    assert "ProvisioningLog.Read.All" in text
    assert "AuditLog.Read.All" not in text
    assert "**Least privilege**" not in text, "prod does not use the tutorial's default pair"


def test_dev_plan_says_each_thing_once(tmp_path: Path) -> None:
    code, text, _ = shipped_plan("dev")
    assert code == 0
    principal = "inbound-provisioning-access-dev-hr-sync (created on deploy)"
    assert [row[:3] for row in table(text, "## Access")] == [
        ["hr-sync", principal, "Graph permission SynchronizationData-User.Upload"],
        ["hr-sync", principal, "Graph permission AuditLog.Read.All"]], "a permission row says no credential"
    [[client, credential, expires, renewed]] = table(text, "## Credentials")
    assert (client, credential) == ("hr-sync", "secret")
    assert expires.endswith(" (the one handed out)")
    # A 90-day secret renewed every 28 days says why: the longest period that keeps the overlap.
    assert renewed.startswith("every 28 days by the program (picked from the 90-day lifetime: the longest of "
                              "21, 28, 56, 84, 168, 336 days that keeps the superseded secret valid through its 14 "
                              "days of overlap and the one handed out valid 30 days ahead after every deploy")
    assert text.count("days of overlap") == 1, "the renewal is said once, not on every permission row"
    passwords = [line for line in text.splitlines()
                 if "`azuread:index/applicationPassword:ApplicationPassword` | `hr-sync-secret-" in line]
    assert len(passwords) == 1, "a new stack's one secret per client"
    assert "No history given: this is a new stack's first deploy" in text


def test_the_tutorials_default_pair_is_named_with_the_narrower_one() -> None:
    code, text, _ = shipped_plan("dev")
    assert code == 0
    note = section(text, "## Access").split("**Least privilege**: ", 1)[1]
    assert note.startswith("hr-sync holds the default permissions, `SynchronizationData-User.Upload` and "
                           "`AuditLog.Read.All`: the pair Microsoft's tutorial grants, not the narrowest. The narrower "
                           "pair is `SynchronizationData-User.Upload.OwnedBy` with `ProvisioningLog.Read.All`")


def deployed_outputs(tmp_path: Path, config: dict[str, Any], days_ago: int) -> Path:
    """What `pulumi stack output --json` prints for a stack deployed ``days_ago`` (secrets hidden, as it does)."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    run = run_offline(OfflineEntra(GRAPH_ROLES, now=at), config, "renewing", program=program_at(at))
    shown = {k: "[secret]" if k in run.secret_outputs else v for k, v in run.outputs.items()}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(shown))
    return path


def test_with_the_last_deploys_outputs_the_plan_shows_the_renewal(tmp_path: Path) -> None:
    config = {"clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 90}}}}
    outputs = deployed_outputs(tmp_path, config, days_ago=30)
    old = json.loads(outputs.read_text())["clients"]["hr"]["renewal"]["handedOut"]["generation"]
    code, text, err = run_plan("renewing", write_stack_file(tmp_path, "renewing", config), "--outputs", str(outputs))
    assert code == 0, err
    assert "Planned as the next deploy after the given outputs." in text
    (row,) = [line for line in text.splitlines() if line.startswith("| hr | ") and "kept until" in line]
    assert f"| {old} (kept until " in row, "the one handed out 30 days ago is superseded, kept 14 days"
    assert row.endswith("| creates it |")
    assert "WARNING" not in text


def test_removing_a_credential_in_use_is_said_loudly(tmp_path: Path) -> None:
    secret = {"clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 90}}}}
    outputs = deployed_outputs(tmp_path, secret, days_ago=3)
    federated = {"clients": {"hr": {"kind": "servicePrincipal", "credential": {
        "type": "federated", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:main"}}}}
    code, text, _ = run_plan("renewing", write_stack_file(tmp_path, "renewing", federated), "--outputs", str(outputs))
    assert code == 0
    assert "## WARNING: credentials in use would be removed" in text
    assert "(handed out) is removed by this deploy" in text


def test_outputs_a_partial_update_left_unknown_make_the_plan_say_the_deploy_would_stop(tmp_path: Path) -> None:
    config = {"clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 90}}}}
    outputs = deployed_outputs(tmp_path, config, days_ago=3)
    shown = json.loads(outputs.read_text())
    # What `pulumi stack output --json` prints for outputs a `--target` update of an earlier version left unknown.
    del shown["renewalLedger"]
    outputs.write_text(json.dumps({**shown, "clients": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}))
    code, text, err = run_plan("renewing", write_stack_file(tmp_path, "renewing", config), "--outputs", str(outputs))
    assert code == 1
    assert text == ""
    assert err.startswith("The next `pulumi up` of this stack would stop before changing anything:")
    assert "the engine stored them unknown" in err


def test_an_unreadable_outputs_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outputs.json").write_text("[secret]")
    code, _, err = run_plan("dev", ROOT / "Pulumi.dev.yaml", "--outputs", str(tmp_path / "outputs.json"))
    assert code == 2
    assert "not a readable JSON file" in err


def test_broken_stack_file_fails_with_the_error_list(tmp_path: Path) -> None:
    broken = write_stack_file(tmp_path, "broken", {
        "graphPermissions": ["Directory.ReadWrite.All"],
        "clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 1000}}},
    })
    code, text, err = run_plan("broken", broken)
    assert code == 1
    assert text == ""
    assert "graphPermissions[0]" in err
    assert "clients.hr.credential.lifetimeDays" in err
    assert "2 problems" in err


def test_missing_stack_file(tmp_path: Path) -> None:
    code, _, err = run_plan("nope", tmp_path / "Pulumi.nope.yaml")
    assert code == 2
    assert "does not exist" in err


def test_a_missing_stack_file_names_the_stacks_beside_it(tmp_path: Path) -> None:
    for stack in ("prod", "dev"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    code, _, err = run_plan("deb", tmp_path / "Pulumi.deb.yaml")
    assert code == 2
    assert err.endswith("Pulumi.deb.yaml does not exist; the stacks beside it: dev, prod\n")


def test_plan_with_a_provisioning_app_and_lookups(tmp_path: Path) -> None:
    stack_file = write_stack_file(tmp_path, "test", {
        "provisioningApp": {
            "displayName": "API-driven provisioning to Microsoft Entra ID",
            "jobId": "API2AAD.0123456789abcdef0123456789abcdef.72f988bf-0000-4000-8000-00000000e1d0",
        },
        "clients": {
            "by-id": {"kind": "managedIdentity", "existing": {"objectId": "5dbc3f7a-c629-5faa-86dc-6f1351751cef"}},
            "uami": {"kind": "managedIdentity", "userAssigned": {
                "name": "id-hr", "resourceGroupName": "rg-identity", "location": "westeurope"}},
        },
    })
    code, text, err = run_plan("test", stack_file)
    assert code == 0, err
    assert "5dbc3f7a-c629-5faa-86dc-6f1351751cef (existing; looked up by objectId on deploy)" in text
    assert "id-hr (user-assigned identity, created on deploy)" in text
    assert "Provisioning app: API-driven provisioning to Microsoft Entra ID, job `API2AAD." in text
    assert "`azure-native:managedidentity:UserAssignedIdentity` | `uami-identity` | no |" in text
    assert "looked-up-on-deploy" not in text


def test_encrypted_config_is_never_shown(tmp_path: Path) -> None:
    # What `pulumi config set --secret` writes: an encrypted value the plan cannot read.
    stack_file = write_stack_file(tmp_path, "test", {"clients": {"secure": "v1:Q2lwaGVydGV4dE5ldmVyU2hvd24="}})
    code, text, err = run_plan("test", stack_file)
    assert code == 1
    assert "clients: got <encrypted, not shown>" in err
    assert "Q2lwaGVydGV4dE5ldmVyU2hvd24" not in err + text


def test_plan_lists_adopted_objects_and_what_import_changes(tmp_path: Path) -> None:
    app, sp, grant = (f"0000000{i}-1111-4222-8333-444444444444" for i in range(3))
    path = write_stack_file(tmp_path, "dev", {"clients": {
        "hr": {"kind": "servicePrincipal", "displayName": "HR middleware", "credential": {"type": "secret"},
               "adopt": {"application": app, "servicePrincipal": sp,
                         "grants": {"SynchronizationData-User.Upload": grant}}},
        "logic": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"},
                  "adopt": {"grants": {"AuditLog.Read.All": grant.replace("0000000", "9999999")}}},
        "new": {"kind": "servicePrincipal", "credential": {"type": "secret"}},
    }})
    code, text, err = run_plan("dev", path)
    assert code == 0, err
    section = text.split("## Adopted objects (imported on deploy, not created)")[1].split("\n## ")[0]
    assert f"`hr-app` ← `/applications/{app}`" in section
    assert f"`hr-sp` ← `/servicePrincipals/{sp}`" in section
    assert (f"`hr-grant-SynchronizationData-User.Upload` ← `/servicePrincipals/<Graph's service principal>"
            f"/appRoleAssignedTo/{grant}`") in section
    assert "`logic-grant-AuditLog.Read.All` ← `/servicePrincipals/" in section
    assert "displayName `HR middleware`" in section
    assert "declared API permissions exactly SynchronizationData-User.Upload, AuditLog.Read.All" in section
    assert "owners: none (any owners are removed)" in section
    assert "the stack adds its secret beside them" in section
    assert "**new**" not in section
    assert "hr-grant-AuditLog.Read.All` ←" not in section


def test_plan_without_adopt_has_no_adoption_section() -> None:
    code, text, _ = shipped_plan("dev")
    assert code == 0
    assert "Adopted objects" not in text


# -- stack files read as the Pulumi CLI reads them -------------------------------------------------

def plan_text(tmp_path: Path, text: str | bytes, stack: str = "test", *extra: str) -> tuple[int, str, str]:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(["--stack", stack, "--config-file", str(path), *extra], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


NS = "inbound-provisioning-access"
SECRET_CLIENT = "    hr:\n      kind: servicePrincipal\n      credential: {type: secret}\n"


@pytest.mark.parametrize(("case", "text", "line", "says"), [
    ("tab indentation", f"config:\n  {NS}:clients:\n    hr:\n\t  kind: servicePrincipal\n", 4, "tab"),
    ("unclosed brace", f"config:\n  {NS}:clients: {{hr: {{kind: servicePrincipal}}\n", 3, "not valid YAML"),
    ("duplicate client key", f"config:\n  {NS}:clients:\n{SECRET_CLIENT}{SECRET_CLIENT}", 6,
     "key `hr` appears twice"),
    ("duplicate config key", f"config:\n  {NS}:protect: true\n  {NS}:protect: false\n", 3,
     f"key `{NS}:protect` appears twice"),
    ("a list document", "- config\n- clients\n", 1, "the document is a list"),
    ("a scalar document", "just some text\n", 1, "the document is a single value"),
    ("config is a list", "config:\n  - a\n", 2, "`config:` is not a mapping"),
    ("bare and namespaced", f"config:\n  clients: {{}}\n  {NS}:clients: {{}}\n", 3, "a second time"),
    ("two documents", "config: {}\n---\nconfig: {}\n", 2, "more than one YAML document"),
    ("not UTF-8", b"config:\n  x: \xff\n", 2, "not UTF-8"),
    ("a key indented too little", f"config:\n  {NS}:clients:\n    hr:\n      kind: servicePrincipal\n"
     "     credential: {type: secret}\n", 5, "; check the indentation of line 5 and the line above it: YAML nests by "
     "indentation"),
    ("a key indented too far", f"config:\n  {NS}:clients:\n    hr:\n      kind: servicePrincipal\n"
     "        credential: {type: secret}\n", 5, "; check the indentation of line 5"),
])
def test_an_unreadable_stack_file_names_file_and_line(tmp_path: Path, case: str, text: str | bytes, line: int,
                                                      says: str) -> None:
    code, out, err = plan_text(tmp_path, text)
    assert code == plan.EXIT_UNREADABLE, (case, err)
    assert out == ""
    assert err.startswith(f"error: {tmp_path / 'Pulumi.test.yaml'}:{line}"), err
    assert says in err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_a_duplicate_key_error_never_echoes_the_values(tmp_path: Path) -> None:
    text = f"config:\n  {NS}:clients:\n    hr:\n      displayName: first-value\n      displayName: second-value\n"
    code, _, err = plan_text(tmp_path, text)
    assert code == plan.EXIT_UNREADABLE
    assert "first-value" not in err
    assert "second-value" not in err


@pytest.mark.parametrize(("value", "protected"), [("true", True), ('"true"', True), ("false", False),
                                                  ("'false'", False)])
def test_protect_is_read_as_the_cli_hands_it_over(tmp_path: Path, value: str, protected: bool) -> None:
    code, text, err = plan_text(tmp_path, f"config:\n  {NS}:protect: {value}\n  {NS}:clients:\n{SECRET_CLIENT}")
    assert code == 0, err
    assert f"`protect` is **{'on' if protected else 'off'}**" in text


@pytest.mark.parametrize("value", ["yes", "on", "Yes", "1"])
def test_yaml_1_1_booleans_are_strings_as_under_pulumi(tmp_path: Path, value: str) -> None:
    code, text, err = plan_text(tmp_path, f"config:\n  {NS}:protect: {value}\n  {NS}:clients:\n{SECRET_CLIENT}")
    assert code == plan.EXIT_INVALID
    assert text == ""
    assert "  - protect: got " in err
    assert "true or false" in err


def test_a_nested_secure_value_is_encrypted_not_shown(tmp_path: Path) -> None:
    ciphertext = "v1:AAABBBCCCDDDciphertextneverShown=="
    code, text, err = plan_text(tmp_path, f"""config:
  {NS}:clients:
    hr:
      kind: servicePrincipal
      displayName:
        secure: {ciphertext}
      credential:
        type: certificate
        pem:
          secure: {ciphertext}
""")
    assert code == plan.EXIT_INVALID
    assert "clients.hr.credential.pem: got <encrypted, not shown>" in err
    assert "clients.hr.displayName: got <encrypted, not shown>" in err
    assert "make plan cannot check this one" in err
    assert ciphertext not in err + text
    assert "<0 characters, not shown>" not in err


@pytest.mark.parametrize(("text", "ignored"), [
    (f"config:\n  inbound_provisioning_access:clients:\n{SECRET_CLIENT}", "inbound_provisioning_access:clients"),
    (f"config:\n  Inbound-Provisioning-Access:clients:\n{SECRET_CLIENT}", "Inbound-Provisioning-Access:clients"),
    (f"config:\n  inbound-provisioning:clients:\n{SECRET_CLIENT}", "inbound-provisioning:clients"),
    (f"clients:\n{SECRET_CLIENT}", "clients (top level of the file)"),
    (f"{NS}:clients:\n{SECRET_CLIENT}", f"{NS}:clients (top level of the file)"),
])
def test_a_wrong_namespace_names_the_expected_one(tmp_path: Path, text: str, ignored: str) -> None:
    code, _, err = plan_text(tmp_path, text)
    assert code == plan.EXIT_INVALID
    assert f"  - {ignored}: got (ignored); " in err
    assert f"`{NS}:clients`" in err
    assert "clients: got (missing); required under" in err


def test_a_quoted_number_in_a_client_says_to_drop_the_quotes(tmp_path: Path) -> None:
    code, _, err = plan_text(tmp_path, f"config:\n  {NS}:clients:\n    hr:\n      kind: servicePrincipal\n"
                                       '      credential: {type: secret, lifetimeDays: "90"}\n')
    assert code == plan.EXIT_INVALID
    assert '  - clients.hr.credential.lifetimeDays: got "90"; an integer from ' in err
    assert err.rstrip().endswith("drop the quotes: a quoted number is a string to YAML, not an integer")


def test_a_bare_key_under_config_belongs_to_the_project(tmp_path: Path) -> None:
    """Pulumi namespaces a bare key under `config:` with the project's name."""
    code, text, err = plan_text(tmp_path, f"config:\n  protect: true\n  clients:\n{SECRET_CLIENT}")
    assert code == 0, err
    assert "`protect` is **on**" in text


def test_help_documents_the_exit_codes() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert plan.main(["--help"]) == 0
    assert "exit status:" in out.getvalue()
    assert "2  the stack file cannot be read" in out.getvalue()


def test_an_internal_error_is_one_line_unless_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(plan, "render", broken)
    text = f"config:\n  {NS}:clients:\n{SECRET_CLIENT}"
    code, _, err = plan_text(tmp_path, text)
    assert code == plan.EXIT_INTERNAL
    assert "Traceback" not in err
    assert "--debug" in err
    code, _, err = plan_text(tmp_path, text, "test", "--debug")
    assert code == plan.EXIT_INTERNAL
    assert "Traceback" in err
    assert "KeyError: 'boom'" in err


# -- Markdown: no config value can change the table's shape ------------------------------------------

CRAFTED = "evil | SynchronizationData-User.Upload | `x` <img src=x> *b* [l](u)"


def unescaped_pipes(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row))


def test_a_crafted_display_name_cannot_shift_the_columns(tmp_path: Path) -> None:
    stack_file = write_stack_file(tmp_path, "test", {
        "graphPermissions": ["ProvisioningLog.Read.All"],
        "clients": {"hr": {"kind": "servicePrincipal", "displayName": CRAFTED, "credential": {
            "type": "federated", "issuer": "https://issuer.example.com", "subject": "a|b\nc"}}},
    })
    code, text, err = run_plan("test", stack_file)
    assert code == 0, err
    rows = [line for line in section(text, "## Access").splitlines() if line.startswith("| hr |")]
    assert len(rows) == 1, "one permission, one row"
    [row] = rows
    assert unescaped_pipes(row) == 5
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert cells[2].strip() == "Graph permission ProvisioningLog.Read.All"
    assert not re.search(r"(?<!\\)[<`]img", text), "no raw HTML, no code span opened by the name"
    assert "\\<img src=x\\>" in row
    assert "\\`x\\`" in row
    [credential] = [line for line in section(text, "## Credentials").splitlines() if line.startswith("| hr |")]
    assert unescaped_pipes(credential) == 5, "the newline in the subject did not add a row"
    assert "a\\|b c" in credential


# -- parity: make plan's reading and the program's, fed as the CLI feeds it -------------------------

HR = {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret"}}}
HR_JSON = json.dumps(HR)

# (case, stack file text, the strings the Pulumi CLI hands the program for it, by full key)
PARITY = [
    ("protect quoted", f'config:\n  {NS}:protect: "true"\n  {NS}:clients:\n{SECRET_CLIENT}',
     {f"{NS}:protect": "true", f"{NS}:clients": HR_JSON}),
    ("protect yes", f"config:\n  {NS}:protect: yes\n  {NS}:clients:\n{SECRET_CLIENT}",
     {f"{NS}:protect": "yes", f"{NS}:clients": HR_JSON}),
    ("protect without a value", f"config:\n  {NS}:protect:\n  {NS}:clients:\n{SECRET_CLIENT}",
     {f"{NS}:protect": "", f"{NS}:clients": HR_JSON}),
    ("clients as JSON text", f"config:\n  {NS}:clients: '{HR_JSON}'\n", {f"{NS}:clients": HR_JSON}),
    ("nested number as a string", f"config:\n  {NS}:clients:\n    hr:\n      kind: servicePrincipal\n"
     "      credential: {type: secret, lifetimeDays: \"90\"}\n",
     {f"{NS}:clients": json.dumps({"hr": {"kind": "servicePrincipal",
                                          "credential": {"type": "secret", "lifetimeDays": "90"}}})}),
    ("nested float that is whole", f"config:\n  {NS}:clients:\n    hr:\n      kind: servicePrincipal\n"
     "      credential: {type: secret, lifetimeDays: 90.0}\n",
     {f"{NS}:clients": '{"hr":{"credential":{"lifetimeDays":90,"type":"secret"},"kind":"servicePrincipal"}}'}),
    ("nested yes is a name", f"config:\n  {NS}:clients:\n    hr:\n      kind: servicePrincipal\n"
     "      displayName: yes\n      credential: {type: secret}\n",
     {f"{NS}:clients": json.dumps({"hr": {"kind": "servicePrincipal", "displayName": "yes",
                                          "credential": {"type": "secret"}}})}),
    ("unknown kind", f"config:\n  {NS}:clients:\n    hr: {{kind: app}}\n",
     {f"{NS}:clients": '{"hr":{"kind":"app"}}'}),
    ("wrong namespace", f"config:\n  inbound_provisioning_access:clients:\n{SECRET_CLIENT}",
     {"inbound_provisioning_access:clients": HR_JSON}),
    ("bare key", f"config:\n  clients:\n{SECRET_CLIENT}  azure-native:location: westeurope\n",
     {f"{NS}:clients": HR_JSON, "azure-native:location": "westeurope"}),
    ("old config form", f"config:\n  {NS}:config:clients:\n{SECRET_CLIENT}", {f"{NS}:clients": HR_JSON}),
    ("empty file", "", {}),
]


def same_cli_text(ours: str, cli: str) -> bool:
    """Equal as the program decodes them (JSON key order and spacing do not matter)."""
    return decode_config_text(ours) == decode_config_text(cli) and \
        isinstance(decode_config_text(ours), str) == isinstance(decode_config_text(cli), str)


@pytest.mark.parametrize(("case", "text", "cli"), PARITY, ids=[c[0] for c in PARITY])
def test_plan_and_program_reach_the_same_verdict(run_program: RunProgram, tmp_path: Path, case: str, text: str,
                                                 cli: dict[str, str]) -> None:
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(text)
    ours = read_stack_file(path).cli_texts()
    assert sorted(ours) == sorted(cli), case
    assert all(same_cli_text(ours[k], cli[k]) for k in cli), (ours, cli)

    try:
        run_program({}, "test", cli_config=cli)
        program: list[str] | None = None
    except SettingsError as error:
        program = [p.path for p in error.problems]
    problems = plan.verdict("test", path)
    assert (None if problems is None else [p.path for p in problems]) == program, case


# -- any file gets an answer: never a traceback, non-zero on every refusal --------------------------

def plan_bytes(data: bytes) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "Pulumi.fuzz.yaml"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        code = plan.main(["--stack", "fuzz", "--config-file", str(path)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def assert_clean_answer(code: int, out: str, err: str) -> None:
    assert code in (plan.EXIT_OK, plan.EXIT_INVALID, plan.EXIT_UNREADABLE), err
    assert "Traceback" not in out + err
    if code == plan.EXIT_OK:
        assert out.startswith("# Access plan: stack `fuzz`")
    else:
        assert out == ""
        assert err.strip(), "a refusal says why"


@given(st.binary(max_size=400))
@settings(max_examples=150, deadline=None)
def test_random_bytes_never_crash_make_plan(data: bytes) -> None:
    assert_clean_answer(*plan_bytes(data))


scalars = (st.none() | st.booleans() | st.integers(-5, 1000) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=10) | st.sampled_from(["yes", "true", "servicePrincipal", "managedIdentity", "secret",
                                                     "ProvisioningLog.Read.All", "https://x.example.com"]))
values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=3)
                      | st.dictionaries(st.sampled_from(["kind", "credential", "type", "existing", "displayName",
                                                          "secure", "hr", "graphPermissions", "lifetimeDays"])
                                        | st.text(max_size=6), children, max_size=4)),
    max_leaves=10,
)
config_keys = st.sampled_from([f"{NS}:clients", f"{NS}:protect", f"{NS}:graphPermissions", f"{NS}:provisioningApp",
                               "clients", "protect", "inbound_provisioning_access:clients", "azure-native:location",
                               f"{NS}:config:clients", "a:b:c", ""])
documents = (st.fixed_dictionaries({"config": st.dictionaries(config_keys, values, max_size=4)})
             | st.dictionaries(st.sampled_from(["config", "clients", "secretsprovider"]), values, max_size=2)
             | values)


@given(documents, st.sampled_from(["", "\t", "{", "- ", ": ", "\n  x"]), st.integers(0, 400))
@settings(max_examples=120, deadline=None)
def test_random_yaml_documents_never_crash_make_plan(document: Any, insert: str, at: int) -> None:
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, buffer)
    text = buffer.getvalue()
    text = text[:at] + insert + text[at:]
    assert_clean_answer(*plan_bytes(text.encode()))


@pytest.mark.parametrize(("value", "accepted"), [
    ("'[\"ProvisioningLog.Read.All\"]'", False),  # a string, not an array: the CLI refuses it
    ("[ProvisioningLog.Read.All, 5]", False),
    ("[ProvisioningLog.Read.All]", True),
])
def test_pulumi_yaml_types_are_checked_as_the_cli_checks_them(tmp_path: Path, value: str, accepted: bool) -> None:
    """Pulumi.yaml declares graphPermissions array<string>; the CLI refuses other types before the program runs."""
    code, _, err = plan_text(tmp_path, f"config:\n  {NS}:graphPermissions: {value}\n  {NS}:clients:\n{SECRET_CLIENT}")
    if accepted:
        assert code == 0, err
    else:
        assert code == plan.EXIT_INVALID
        assert "  - graphPermissions: got " in err
        assert "Pulumi.yaml declares it array<string>" in err
        assert err.count("  - graphPermissions") == 1, "one problem per key"
