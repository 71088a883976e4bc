"""make verify against recorded outputs, with Entra and Graph replaced at azure-core's transport."""

from __future__ import annotations

import base64
import fnmatch
import io
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest, HttpResponse

from tests.conftest import LOGIC_APP, ROOT, RunProgram, job_for, secret_client
from tests.fake_graph import FakeResponse, FakeTransport
from tools.offline.entra import OfflineEntra
from tools.offline.values import self_signed_pem
from tools.verify import verify

TOKEN_MARK = "fake-signature-never-printed"


def fake_jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{TOKEN_MARK}"


class FakeEntra(FakeTransport):
    """Answers the token endpoint and Graph's provisioning logs as Entra would."""

    def __init__(self, tenant: str, roles: dict[str, list[str]], *, refuse: frozenset[str] = frozenset(),
                 logs_status: int = 200, token_tenant: str | None = None, token_client: str | None = None) -> None:
        self.tenant, self.roles, self.refuse = tenant, roles, refuse
        self.logs_status, self.token_tenant, self.token_client = logs_status, token_tenant, token_client
        self.requests: list[str] = []

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        url = request.url
        self.requests.append(f"{request.method} {url.split('?')[0]}")
        authority = f"https://login.microsoftonline.com/{self.tenant}"
        if "openid-configuration" in url:
            return FakeResponse(request, 200, {
                "token_endpoint": f"{authority}/oauth2/v2.0/token", "issuer": f"{authority}/v2.0",
                "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize"})
        if "discovery/instance" in url:
            return FakeResponse(request, 200, {"tenant_discovery_endpoint":
                                               f"{authority}/v2.0/.well-known/openid-configuration"})
        if url.endswith("/oauth2/v2.0/token"):
            form: dict[str, Any] = {}
            if isinstance(request.body, (bytes, str)):
                text = request.body.decode() if isinstance(request.body, bytes) else request.body
                form = dict(urllib.parse.parse_qsl(text))
            elif isinstance(request.data, dict):
                form = dict(request.data)
            client_id = str(form.get("client_id", ""))
            if client_id in self.refuse:
                return FakeResponse(request, 401, {"error": "invalid_client", "error_description":
                                                   "AADSTS7000215: Invalid client secret provided."})
            claims = {"tid": self.token_tenant or self.tenant, "appid": self.token_client or client_id,
                      "roles": self.roles.get(client_id, [])}
            return FakeResponse(request, 200, {"access_token": fake_jwt(claims), "expires_in": 3600,
                                               "token_type": "Bearer"})
        if "auditLogs/provisioning" in url:
            assert request.headers["Authorization"].startswith("Bearer ")
            assert "$top=1" in url
            return FakeResponse(request, self.logs_status, {"value": []})
        raise AssertionError(f"unexpected request {request.method} {url}")


@pytest.fixture
def recorded(run_program: RunProgram, entra: OfflineEntra, tmp_path: Path) -> dict[str, Any]:
    """Outputs of a deployed stack, as `pulumi stack output --json --show-secrets` prints them."""
    from tests.conftest import PROVISIONING_APP
    run = run_program({
        "clients": {
            "workday": secret_client(),
            "gen-cert": {"kind": "servicePrincipal", "credential": {"type": "certificate",
                                                                    "generate": {"subject": "hr"}}},
            "logic-app": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}},
        },
        "provisioningApp": {"displayName": PROVISIONING_APP.display_name,
                            "jobId": job_for(entra.tenant_id)},
    })
    outputs = dict(run.outputs)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    outputs["_path"] = str(path)
    return outputs


def granted(outputs: dict[str, Any]) -> dict[str, list[str]]:
    return {c["clientId"]: c["graphPermissions"] for c in outputs["clients"].values()}


def run_verify(outputs: dict[str, Any], transport: FakeEntra, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = verify.main(["--outputs", outputs["_path"], *extra], transport=transport, out=out)
    return code, out.getvalue()


def secrets_of(outputs: dict[str, Any]) -> list[str]:
    found = []
    for material in outputs["clientCredentials"].values():
        for value in material.values():
            found += [value] + [line for line in value.splitlines() if len(line) > 40]
    return found


def assert_nothing_secret(text: str, outputs: dict[str, Any]) -> None:
    assert TOKEN_MARK not in text
    for secret in secrets_of(outputs):
        assert secret not in text


def test_all_roles_present(recorded: dict[str, Any]) -> None:
    fake = FakeEntra(recorded["tenantId"], granted(recorded))
    code, text = run_verify(recorded, fake)
    assert code == 0, text
    lines = {line.split()[0]: line for line in text.splitlines()[2:5]}
    assert lines["workday"].rstrip().endswith("OK")
    assert "AuditLog.Read.All, SynchronizationData-User.Upload" in lines["workday"]
    assert "OK (200)" in lines["gen-cert"]
    assert "SKIPPED" in lines["logic-app"]
    assert "--on-azure" in text
    assert sum("/oauth2/v2.0/token" in r for r in fake.requests) == 2
    assert sum("auditLogs/provisioning" in r for r in fake.requests) == 2
    assert_nothing_secret(text, recorded)


def test_one_role_missing(recorded: dict[str, Any]) -> None:
    roles = granted(recorded)
    roles[recorded["clients"]["workday"]["clientId"]] = ["AuditLog.Read.All"]
    code, text = run_verify(recorded, FakeEntra(recorded["tenantId"], roles), "--client", "workday")
    assert code == 1
    assert "MISMATCH" in text
    assert "missing SynchronizationData-User.Upload: not granted (run `make up`)" in text
    assert "predate" in text
    assert_nothing_secret(text, recorded)


def test_an_extra_role(recorded: dict[str, Any]) -> None:
    roles = granted(recorded)
    roles[recorded["clients"]["workday"]["clientId"]] += ["User.ReadWrite.All"]
    code, text = run_verify(recorded, FakeEntra(recorded["tenantId"], roles), "--client", "workday")
    assert code == 1
    assert "extra User.ReadWrite.All" in text


def test_a_failed_token_request(recorded: dict[str, Any]) -> None:
    workday = recorded["clients"]["workday"]["clientId"]
    fake = FakeEntra(recorded["tenantId"], granted(recorded), refuse=frozenset({workday}))
    code, text = run_verify(recorded, fake, "--client", "workday")
    assert code == 2
    assert "AUTH-ERROR" in text
    assert "sign-in failed" in text
    assert_nothing_secret(text, recorded)


def test_logs_endpoint_403(recorded: dict[str, Any]) -> None:
    fake = FakeEntra(recorded["tenantId"], granted(recorded), logs_status=403)
    code, text = run_verify(recorded, fake, "--client", "workday")
    assert code == 1
    assert "provisioning logs refused (403)" in text


def test_wrong_tenant(recorded: dict[str, Any]) -> None:
    fake = FakeEntra(recorded["tenantId"], granted(recorded), token_tenant="99999999-0000-4000-8000-000000000000")
    code, text = run_verify(recorded, fake, "--client", "workday")
    assert code == 1
    assert "wrong tenant" in text


def test_token_for_another_identity(recorded: dict[str, Any]) -> None:
    fake = FakeEntra(recorded["tenantId"], granted(recorded), token_client="aaaaaaaa-0000-4000-8000-000000000000")
    code, text = run_verify(recorded, fake, "--client", "workday")
    assert code == 1
    assert "wrong identity: the token is for client aaaaaaaa-0000-4000-8000-000000000000" in text


def test_federated_client_is_checked_by_its_workload(run_program: RunProgram, tmp_path: Path) -> None:
    run = run_program({"clients": {"gh": {"kind": "servicePrincipal", "credential": {
        "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:o/r:ref:main"}}}})
    outputs = {**run.outputs, "_path": str(tmp_path / "o.json")}
    Path(outputs["_path"]).write_text(json.dumps(run.outputs))
    fake = FakeEntra(outputs["tenantId"], granted(outputs))
    code, text = run_verify(outputs, fake)
    assert code == verify.EXIT_NOTHING_CHECKED, "nothing was checked: not a pass"
    assert "BY-WORKLOAD" in text
    assert "run there with --on-azure" in text
    assert "nothing was checked" in text
    assert fake.requests == []
    assert run_verify(outputs, fake, "--allow-skipped")[0] == 0


def test_managed_identity_without_on_azure_is_skipped(recorded: dict[str, Any]) -> None:
    fake = FakeEntra(recorded["tenantId"], granted(recorded))
    code, text = run_verify(recorded, fake, "--client", "logic-app")
    assert code == verify.EXIT_NOTHING_CHECKED
    assert "SKIPPED" in text
    assert "run there with --on-azure" in text
    assert fake.requests == [], "no token is requested for a managed identity off Azure"


def test_bring_your_own_certificate_needs_its_key(tmp_path: Path, run_program: RunProgram) -> None:
    import datetime as dt
    now = dt.datetime.now(dt.UTC)
    pem = self_signed_pem("byo", now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    run = run_program({"clients": {"byo": {"kind": "servicePrincipal",
                                           "credential": {"type": "certificate", "pem": pem}}}})
    outputs = dict(run.outputs)
    outputs["_path"] = str(tmp_path / "o.json")
    Path(outputs["_path"]).write_text(json.dumps(run.outputs))
    code, text = run_verify(outputs, FakeEntra(outputs["tenantId"], granted(outputs)))
    assert code == 2
    assert "--certificate byo=PATH" in text


def test_help_documents_the_roles_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify.main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "roles" in text
    assert "does not validate its" in text
    assert "--on-azure" in text
    assert "Exit status" in text


def test_outputs_come_from_the_pulumi_cli(recorded: dict[str, Any], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args.txt"
    stand_in = bin_dir / "pulumi"
    stand_in.write_text(f'#!/usr/bin/env bash\necho "$PULUMI_BACKEND_URL|$*" > {log}\ncat {recorded["_path"]}\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    out = io.StringIO()
    code = verify.main(["--stack", "dev", "--client", "workday"],
                       transport=FakeEntra(recorded["tenantId"], granted(recorded)), out=out)
    assert code == 0, out.getvalue()
    backend, args = log.read_text().strip().split("|")
    assert args == "stack output --show-secrets --json --stack dev"
    assert backend.endswith("/.pulumi-state")


def test_missing_cli_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    out = io.StringIO()
    assert verify.main(["--stack", "dev"], out=out) == 2
    assert "--outputs FILE" in out.getvalue()
    assert "inbound-provisioning-access/dev.outputs.json" in out.getvalue()


# -- every input path: a clean error, the right exit code --------------------------------------------

def test_outputs_written_without_show_secrets(recorded: dict[str, Any], tmp_path: Path) -> None:
    """`pulumi stack output --json` without --show-secrets prints "[secret]" for the secret output."""
    hidden = {k: v for k, v in recorded.items() if k != "_path"} | {"clientCredentials": "[secret]"}
    path = tmp_path / "hidden.json"
    path.write_text(json.dumps(hidden))
    fake = FakeEntra(recorded["tenantId"], granted(recorded))
    code, text = run_verify({"_path": str(path)}, fake)
    assert code == verify.EXIT_USAGE
    assert "without --show-secrets" in text
    assert "USAGE" in text
    assert fake.requests == []


def test_outputs_without_show_secrets_still_check_a_client_that_needs_none(recorded: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    hidden = {k: v for k, v in recorded.items() if k != "_path"} | {"clientCredentials": "[secret]"}
    path = tmp_path / "hidden.json"
    path.write_text(json.dumps(hidden))
    code, text = run_verify({"_path": str(path)}, FakeEntra(recorded["tenantId"], granted(recorded)),
                            "--client", "logic-app", "--allow-skipped")
    assert code == 0, text


@pytest.mark.parametrize(("content", "says"), [
    (None, "does not exist; write it with `pulumi stack output --json --show-secrets"),
    ("{not json", ":1: not JSON"),
    ("[1, 2]", "expected the JSON object"),
    ('{"tenantId": "t"}', "no `clients` map"),
    ('{"clients": {"a": "x"}}', "no `clients` map"),
])
def test_unusable_outputs_are_a_clean_usage_error(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "o.json"
    if content is not None:
        path.write_text(content)
    code, text = run_verify({"_path": str(path)}, FakeEntra("t", {}))
    assert code == verify.EXIT_USAGE
    assert text.startswith("error: ")
    assert says in text
    assert "Traceback" not in text


def test_an_unknown_client_lists_the_valid_keys(recorded: dict[str, Any]) -> None:
    fake = FakeEntra(recorded["tenantId"], granted(recorded))
    code, text = run_verify(recorded, fake, "--client", "wrokday")
    assert code == verify.EXIT_USAGE
    assert text == "error: no client wrokday in these outputs; valid keys: workday, gen-cert, logic-app\n"
    assert fake.requests == []


def test_outputs_default_to_the_cache_outside_the_checkout(recorded: dict[str, Any], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "inbound-provisioning-access" / "dev.outputs.json"
    assert verify.default_outputs_file("dev") == expected
    assert not expected.is_relative_to(ROOT)
    expected.parent.mkdir(parents=True)
    expected.write_text(Path(recorded["_path"]).read_text())
    out = io.StringIO()
    code = verify.main(["--stack", "dev", "--outputs", "--client", "workday"],
                       transport=FakeEntra(recorded["tenantId"], granted(recorded)), out=out)
    assert code == 0, out.getvalue()
    assert "warning" not in out.getvalue()


def test_an_outputs_file_inside_the_checkout_is_warned_about(recorded: dict[str, Any], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "ROOT", tmp_path)
    inside = tmp_path / "dev.outputs.json"
    inside.write_text(Path(recorded["_path"]).read_text())
    code, text = run_verify({"_path": str(inside)}, FakeEntra(recorded["tenantId"], granted(recorded)),
                            "--client", "workday")
    assert code == 0
    assert text.startswith("warning: ")
    assert "holds secrets in plaintext" in text


def test_git_ignores_the_outputs_files_the_docs_write() -> None:
    patterns = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    written = re.findall(r"--show-secrets > (\S+)",
                         (ROOT / "docs" / "outputs-and-downstream-client.md").read_text())
    assert written, "the outputs page shows where to write the outputs"
    for path in written:
        name = path.rsplit("/", 1)[-1]
        assert any(fnmatch.fnmatch(name, pattern.lstrip("/")) for pattern in patterns), path
    assert "outputs.json" in " ".join(patterns)


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify.main(["--help"]) == 0
    text = capsys.readouterr().out
    for code in ("0  every checked client", "1  a mismatch", "2  a usage", "3  nothing was checked", "4  a bug"):
        assert code in text
    assert "--allow-skipped" in text


def test_an_internal_error_is_one_line_unless_debug(recorded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(verify, "render", broken)
    fake = FakeEntra(recorded["tenantId"], granted(recorded))
    code, text = run_verify(recorded, fake, "--client", "workday")
    assert code == verify.EXIT_INTERNAL
    assert "Traceback" not in text
    assert "--debug" in text
    code, text = run_verify(recorded, fake, "--client", "workday", "--debug")
    assert "Traceback" in text
    assert_nothing_secret(text, recorded)
