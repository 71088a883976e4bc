"""The example HR client (examples/hr_client/) against a stack's outputs, with Entra, Key Vault and Graph faked
at azure-core's transport: the token request of each sign-in form, the body it posts, a 403 and a 429."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import shlex
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest, HttpResponse
from azure.core.utils import CaseInsensitiveDict
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from examples.hr_client import client
from examples.hr_client.bulk_request import (
    BULK_REQUEST_SCHEMA,
    SAMPLE_REQUEST,
    bulk_request_problems,
    load_bulk_request,
)
from examples.hr_client.sign_in import combined_pem
from tests.conftest import GRAPH_ROLES, LOGIC_APP, NOW, PROVISIONING_APP, ROOT, RunProgram, job_for, secret_client
from tests.fake_graph import FakeResponse, FakeTransport
from tools.offline.entra import OfflineEntra
from tools.offline.run import run_offline

IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"
VAULT = "https://hr-vault.vault.azure.net"
SECRET_URI = f"{VAULT}/secrets/hr-sync"
VERSION = "4f1c0a9e2b7d4e5f8a6b3c2d1e0f9a8b"
PREVIOUS = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
TOKEN_MARK = "fake-token-signature-never-printed"


def fake_token(audience: str, subject: str) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'aud': audience, 'sub': subject})}.{TOKEN_MARK}"


def jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


class FakeRestResponse(FakeResponse):
    """A response as azure-core's transports return one to ``azure.core.rest`` callers (SDKs, send_request)."""

    def json(self) -> Any:
        return json.loads(self._body)

    def read(self) -> bytes:
        return self._body

    @property
    def content(self) -> bytes:
        return self._body


def answer(request: HttpRequest, status: int, payload: Any, **headers: str) -> HttpResponse:
    response = FakeRestResponse(request, status, payload)
    if payload is None:  # 202 Accepted has no body
        response._body = b""
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
    return response


class FakeAzure(FakeTransport):
    """Entra's token endpoint, the instance metadata service, one Key Vault and Graph's bulkUpload, as they answer.

    ``upload_statuses`` are bulkUpload's answers in turn (the last repeats); ``vault_status`` is
    what the vault answers an authenticated read (200, 403 or 404).
    """

    def __init__(self, tenant: str, *, upload_statuses: tuple[int, ...] = (202,), retry_after: str = "7",
                 vault_value: str = "", vault_content_type: str | None = None, vault_status: int = 200,
                 previous_value: str = "", not_yet_accepted: str = "") -> None:
        self.tenant, self.upload_statuses, self.retry_after = tenant, list(upload_statuses), retry_after
        self.vault_value, self.vault_content_type, self.vault_status = vault_value, vault_content_type, vault_status
        self.previous_value = previous_value
        """The secret's previous version (``PREVIOUS``), listed beside the current one when given."""
        self.not_yet_accepted = not_yet_accepted
        """A client secret Entra answers invalid_client for (a renewal not replicated yet)."""
        self.token_forms: list[dict[str, str]] = []
        self.imds: list[dict[str, str]] = []
        self.vault_reads: list[tuple[str, str]] = []
        self.uploads: list[HttpRequest] = []
        self.issued: list[str] = []

    def _issue(self, audience: str, subject: str) -> str:
        self.issued.append(fake_token(audience, subject))
        return self.issued[-1]

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        url = urllib.parse.urlsplit(request.url)
        authority = f"https://login.microsoftonline.com/{self.tenant}"
        if url.netloc == "login.microsoftonline.com":
            if "openid-configuration" in url.path:
                return answer(request, 200, {"token_endpoint": f"{authority}/oauth2/v2.0/token",
                                             "issuer": f"{authority}/v2.0",
                                             "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize"})
            if "discovery/instance" in url.path:
                return answer(request, 200, {"tenant_discovery_endpoint":
                                             f"{authority}/v2.0/.well-known/openid-configuration",
                                             "metadata": [{"preferred_network": "login.microsoftonline.com",
                                                           "aliases": ["login.microsoftonline.com"]}]})
            assert request.method == "POST"
            assert url.path == f"/{self.tenant}/oauth2/v2.0/token"
            body = request.body if isinstance(request.body, (bytes, str)) else b""
            form = dict(urllib.parse.parse_qsl(body.decode() if isinstance(body, bytes) else body))
            if not form and isinstance(request.data, dict):
                form = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.data.items()}
            self.token_forms.append(form)
            if self.not_yet_accepted and form.get("client_secret") == self.not_yet_accepted:
                return answer(request, 401, {"error": "invalid_client", "error_codes": [7000215],
                                             "error_description": "AADSTS7000215: Invalid client secret provided."})
            scope = form["scope"].split()[0]
            return answer(request, 200, {"access_token": self._issue(scope.removesuffix("/.default"),
                                                                     form["client_id"]),
                                         "expires_in": 3599, "token_type": "Bearer"})
        if request.url.startswith(IMDS):
            assert request.headers.get("Metadata") == "true"
            query = dict(urllib.parse.parse_qsl(url.query))
            self.imds.append(query)
            return answer(request, 200, {"access_token": self._issue(query["resource"], "managed-identity"),
                                         "expires_in": "3599", "expires_on": "1796000000",
                                         "resource": query["resource"], "token_type": "Bearer"})
        if f"{url.scheme}://{url.netloc}" == VAULT:
            return self._vault(request, url)
        if url.netloc == "graph.microsoft.com" and url.path.endswith("/bulkUpload"):
            self.uploads.append(request)
            status = self.upload_statuses.pop(0) if len(self.upload_statuses) > 1 else self.upload_statuses[0]
            if status == 202:
                logs = ("https://graph.microsoft.com/v1.0/auditLogs/provisioning/?$filter=jobid%20eq%20"
                        f"'{job_for(self.tenant)}'")
                return answer(request, 202, None, Location=logs)
            if status == 429:
                return answer(request, 429, {"error": {"code": "TooManyRequests", "message": "Too many requests"}},
                              **{"Retry-After": self.retry_after})
            return answer(request, status, {"error": {
                "code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation.",
                "innerError": {"date": "2026-11-27T09:30:00", "request-id": "0000"}}})
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def _vault(self, request: HttpRequest, url: urllib.parse.SplitResult) -> HttpResponse:
        assert request.method == "GET"
        assert "api-version" in url.query
        if "Authorization" not in request.headers:
            # Key Vault's challenge: the SDK learns the tenant and resource from it, then signs in.
            return answer(request, 401, {"error": {"code": "Unauthorized", "message": "AKV10000"}},
                          **{"WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/'
                                                 f'{self.tenant}", resource="https://vault.azure.net"'})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.vault_reads.append((url.path, jwt_part(token, 1)["aud"]))
        if self.vault_status == 403:
            return answer(request, 403, {"error": {"code": "Forbidden", "message": "Caller is not authorized",
                                                   "innerError": {"code": "ForbiddenByRbac"}}})
        if self.vault_status == 404:
            return answer(request, 404, {"error": {"code": "SecretNotFound", "message": "not found"}})
        name, *version = url.path.strip("/").split("/")[1:]
        attributes = {"enabled": True, "exp": 1811000000, "recoveryLevel": "Recoverable+Purgeable"}
        if version == ["versions"]:
            listed = [(VERSION, 1795000000)] + ([(PREVIOUS, 1790000000)] if self.previous_value else [])
            return answer(request, 200, {"value": [
                {"id": f"{VAULT}/secrets/{name}/{v}", "attributes": {**attributes, "created": c, "updated": c}}
                for v, c in listed], "nextLink": None})
        if version == [PREVIOUS]:
            return answer(request, 200, {"value": self.previous_value, "id": f"{VAULT}/secrets/{name}/{PREVIOUS}",
                                         "attributes": {**attributes, "created": 1790000000, "updated": 1790000000}})
        return answer(request, 200, {
            "value": self.vault_value, "contentType": self.vault_content_type,
            "id": f"{VAULT}/secrets/{name}/{VERSION}",
            "attributes": {"enabled": True, "exp": 1811000000, "created": 1795000000, "updated": 1795000000,
                           "recoveryLevel": "Recoverable+Purgeable"}})


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A deployed stack's outputs with secrets (`pulumi stack output --json --show-secrets`), once per module."""
    entra = OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP, PROVISIONING_APP], now=NOW)
    run = run_offline(entra, {
        "clients": {
            "workday": secret_client(),
            "gen-cert": {"kind": "servicePrincipal", "credential": {"type": "certificate",
                                                                    "generate": {"subject": "hr"}}},
            "logic-app": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}},
        },
        "provisioningApp": {"displayName": PROVISIONING_APP.display_name, "jobId": job_for(entra.tenant_id)},
    }, "dev")
    recorded: dict[str, Any] = json.loads(json.dumps(run.outputs))
    path = tmp_path_factory.mktemp("stack") / "outputs.json"
    path.write_text(json.dumps(recorded))
    recorded["_path"] = str(path)
    return recorded


def run_client(fake: FakeAzure, *args: str, environ: dict[str, str] | None = None) -> tuple[int, str, list[float]]:
    out, slept = io.StringIO(), list[float]()
    code = client.main(list(args), transport=fake, out=out, sleep=slept.append, environ=environ or {})
    return code, out.getvalue(), slept


def secrets_of(outputs: dict[str, Any]) -> list[str]:
    found = []
    for material in outputs["clientCredentials"].values():
        for value in material.values():
            found += [value] + [line for line in value.splitlines() if len(line) > 40 and "-----" not in line]
    return found


def assert_nothing_secret(text: str, outputs: dict[str, Any]) -> None:
    assert TOKEN_MARK not in text
    for secret in secrets_of(outputs):
        assert secret not in text


def sent_body(fake: FakeAzure) -> Any:
    body = fake.uploads[-1].body
    assert isinstance(body, bytes)
    return json.loads(body)


def test_secret_sign_in_and_the_request_posted(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"])
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "workday")
    assert code == 0, text
    (form,) = fake.token_forms
    assert {k: form[k] for k in ("client_id", "grant_type", "scope", "client_secret")} == {
        "client_id": outputs["clients"]["workday"]["clientId"], "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
        "client_secret": outputs["clientCredentials"]["workday"]["clientSecret"]}
    (upload,) = fake.uploads
    assert upload.method == "POST"
    assert upload.url == outputs["bulkUploadUrl"]
    assert upload.headers["Content-Type"] == "application/scim+json"
    assert upload.headers["Authorization"] == f"Bearer {fake.issued[0]}"
    assert jwt_part(fake.issued[0], 1)["aud"] == "https://graph.microsoft.com"
    assert sent_body(fake) == json.loads(SAMPLE_REQUEST.read_text())
    assert "accepted (202)" in text
    assert "auditLogs/provisioning" in text
    assert_nothing_secret(text, outputs)


def test_the_sample_request_follows_the_documented_schema() -> None:
    request = load_bulk_request(SAMPLE_REQUEST)
    assert request["schemas"] == [BULK_REQUEST_SCHEMA]
    (operation,) = request["Operations"]
    assert (operation["method"], operation["path"]) == ("POST", "/Users")
    user = operation["data"]
    assert user["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User",
                               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert user["externalId"] == operation["bulkId"]
    enterprise = user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert enterprise["employeeNumber"] == user["externalId"]
    assert set(enterprise["manager"]) == {"value", "displayName"}
    assert bulk_request_problems(request) == []


def test_every_broken_rule_of_a_request_is_listed(tmp_path: Path) -> None:
    request = json.loads(SAMPLE_REQUEST.read_text())
    one = request["Operations"][0]
    request["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:User"]
    request["Operations"] = [copy.deepcopy(one) for _ in range(51)]
    request["Operations"][1]["method"] = "PATCH"
    request["Operations"][2]["bulkId"] = ""
    request["Operations"][3]["data"]["urn:ietf:params:scim:schemas:extension:csv:1.0:User"] = {"HireDate": "x"}
    problems = bulk_request_problems(request)
    assert any(p.startswith("schemas:") for p in problems)
    assert any("51 operations; must be a list of 1 to 50" in p for p in problems)
    assert any(p.startswith("Operations[1].method: 'PATCH'") for p in problems)
    assert any(p.startswith("Operations[2].bulkId: ''") for p in problems)
    assert any(p.startswith("Operations[4].bulkId: '100234' is used twice") for p in problems)
    assert any("Operations[3].data: urn:ietf:params:scim:schemas:extension:csv:1.0:User not listed" in p
               for p in problems)
    path = tmp_path / "too-many.json"
    path.write_text(json.dumps(request))
    fake = FakeAzure("t")
    code, text, _ = run_client(fake, "--request", str(path), "--bulk-upload-url", "https://graph.microsoft.com/x",
                               "--dry-run")
    assert code == 2
    assert "is not a bulkUpload request" in text
    assert fake.uploads == []


def test_certificate_sign_in_with_the_stacks_pem_pair(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"])
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "gen-cert")
    assert code == 0, text
    (form,) = fake.token_forms
    assert form["client_id"] == outputs["clients"]["gen-cert"]["clientId"]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form
    # The assertion is signed with the stack's key and names the stack's certificate.
    header, claims = jwt_part(form["client_assertion"], 0), jwt_part(form["client_assertion"], 1)
    cert = x509.load_pem_x509_certificate(outputs["clientCredentials"]["gen-cert"]["certificatePem"].encode())
    sha1 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).decode().rstrip("=")  # noqa: S303
    sha256 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
    assert header.get("x5t", "").rstrip("=") == sha1 or header.get("x5t#S256", "").rstrip("=") == sha256
    assert claims["iss"] == claims["sub"] == form["client_id"]
    assert claims["aud"].startswith(f"https://login.microsoftonline.com/{outputs['tenantId']}/")
    assert sent_body(fake) == json.loads(SAMPLE_REQUEST.read_text())
    assert_nothing_secret(text, outputs)


def test_managed_identity_sign_in(outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    fake = FakeAzure(outputs["tenantId"])
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "logic-app")
    assert code == 0, text
    assert fake.token_forms == []
    (query,) = fake.imds
    assert query["resource"] == "https://graph.microsoft.com"
    assert "client_id" not in query, "a system-assigned identity is the default one"
    assert fake.uploads[0].headers["Authorization"] == f"Bearer {fake.issued[0]}"
    fake = FakeAzure(outputs["tenantId"])
    code, _, _ = run_client(fake, "--sign-in", "managed-identity", "--managed-identity-client-id", "mi-client-id",
                            "--bulk-upload-url", outputs["bulkUploadUrl"])
    assert code == 0
    assert fake.imds[0]["client_id"] == "mi-client-id"


def test_a_403_says_the_permission_is_missing(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"], upload_statuses=(403,))
    code, text, slept = run_client(fake, "--outputs", outputs["_path"], "--client", "workday")
    assert code == 1
    assert "refused (403) Authorization_RequestDenied" in text
    assert "lacks SynchronizationData-User.Upload" in text
    assert len(fake.uploads) == 1
    assert slept == []
    assert_nothing_secret(text, outputs)


def test_a_429_waits_retry_after_then_posts_again(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"], upload_statuses=(429, 202), retry_after="7")
    code, text, slept = run_client(fake, "--outputs", outputs["_path"], "--client", "workday")
    assert code == 0, text
    assert slept == [7.0]
    assert len(fake.uploads) == 2
    assert fake.uploads[0].body == fake.uploads[1].body
    assert "throttled (429), attempt 1 of 3: waiting 7 s" in text
    assert len(fake.token_forms) == 1, "the token is reused"


def test_throttled_on_every_attempt(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"], upload_statuses=(429,), retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    code, text, slept = run_client(fake, "--outputs", outputs["_path"], "--client", "workday", "--max-attempts", "2")
    assert code == 1
    assert slept == [0.0], "a Retry-After date in the past: no wait"
    assert len(fake.uploads) == 2
    assert "throttled (429) 2 times" in text
    assert "bulkUpload allows 40 requests per second" in text, "the rate Graph's bulkUpload reference gives"


@pytest.mark.parametrize(("retry_after", "waited"), [("soon", 5.0), ("nan", 5.0), ("-3", 0.0), ("99999", 120.0)])
def test_a_retry_after_that_is_neither_seconds_nor_a_date_waits_the_default(
        outputs: dict[str, Any], retry_after: str, waited: float) -> None:
    fake = FakeAzure(outputs["tenantId"], upload_statuses=(429, 202), retry_after=retry_after)
    code, text, slept = run_client(fake, "--outputs", outputs["_path"], "--client", "workday")
    assert code == 0, text
    assert slept == [waited]


def test_dry_run_prints_the_request_and_sends_nothing(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"])
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "workday", "--dry-run")
    assert code == 0
    assert fake.token_forms == []
    assert fake.uploads == []
    head, _, body = text.partition("\n\n")
    assert head.splitlines()[:2] == [f"POST {outputs['bulkUploadUrl']}", "Content-Type: application/scim+json"]
    assert json.loads(body) == json.loads(SAMPLE_REQUEST.read_text())
    assert_nothing_secret(text, outputs)


def test_a_dry_run_fails_like_the_real_run_when_the_credentials_variable_is_unset(outputs: dict[str, Any]) -> None:
    fake = FakeAzure(outputs["tenantId"])
    args = ("--outputs", outputs["_path"], "--client", "workday", "--credential-env", "HR_SECRET")
    real, real_text, _ = run_client(fake, *args)
    dry, dry_text, _ = run_client(fake, *args, "--dry-run")
    assert (dry, dry_text) == (real, real_text) == (2, "error: environment variable HR_SECRET is not set\n")
    assert fake.token_forms == []
    secret = outputs["clientCredentials"]["workday"]["clientSecret"]
    code, text, _ = run_client(fake, *args, "--dry-run", environ={"HR_SECRET": secret})
    assert code == 0
    assert secret not in text
    assert fake.uploads == []


def test_the_readmes_dry_run_needs_no_pulumi_cli() -> None:
    readme = (ROOT / "examples" / "hr_client" / "README.md").read_text()
    recipe = readme.split("```sh\n", 1)[1].split("\n\n", 1)[0]
    assert "pulumi" not in recipe.split("venv/bin/python", 1)[0], "nothing to run before it but the client"
    command = recipe.split("venv/bin/python -m examples.hr_client", 1)[1].replace("\\\n", " ")
    assert "--dry-run" in command
    with_ids = {"SP_ID": "11111111-2222-4333-8444-555555555555", "JOB_ID": "API2AAD.0123.tenant"}
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in with_ids.items():
            patch.setenv(name, value)
        argv = [os.path.expandvars(word) for word in shlex.split(command)]
        assert client.main(argv, transport=FakeAzure("t"), out=out, environ={}) == 0
    assert out.getvalue().startswith("POST https://graph.microsoft.com/v1.0/servicePrincipals/11111111-2222-4333-"
                                     "8444-555555555555/synchronization/jobs/API2AAD.0123.tenant/bulkUpload\n")


def test_a_dry_run_says_what_the_outputs_lack(outputs: dict[str, Any], tmp_path: Path) -> None:
    """The shipped dev stack has no provisioningApp: its outputs have no bulkUploadUrl, and a typo'd client is named."""
    without_app = tmp_path / "dev.json"
    without_app.write_text(json.dumps({k: v for k, v in outputs.items() if k not in ("bulkUploadUrl", "_path")}))
    fake = FakeAzure(outputs["tenantId"])
    code, text, _ = run_client(fake, "--outputs", str(without_app), "--client", "workday", "--dry-run")
    assert code == 2
    assert f"{without_app} has no bulkUploadUrl: the stack has no provisioningApp" in text
    assert "--bulk-upload-url" in text
    code, text, _ = run_client(fake, "--outputs", str(without_app), "--client", "workdy", "--dry-run")
    assert code == 2
    assert f"{without_app} has no client 'workdy'; give --client, one of: workday, gen-cert, logic-app" in text


def test_certificate_from_key_vault(outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    material = outputs["clientCredentials"]["gen-cert"]
    pem = combined_pem(material["certificatePem"], material["privateKeyPem"])
    fake = FakeAzure(outputs["tenantId"], vault_value=pem, vault_content_type="application/x-pem-file")
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "gen-cert",
                               "--key-vault-secret-uri", SECRET_URI)
    assert code == 0, text
    # The reader is this machine's managed identity, signed in to Key Vault after its challenge.
    assert [q["resource"] for q in fake.imds] == ["https://vault.azure.net"]
    assert fake.vault_reads == [("/secrets/hr-sync/", "https://vault.azure.net")], "the current version"
    assert fake.token_forms[0]["client_assertion_type"].endswith("jwt-bearer")
    assert f"version {VERSION}, content type application/x-pem-file" in text
    assert_nothing_secret(text, outputs)


@pytest.mark.parametrize(("status", "message"), [
    (403, "not one of the client's keyVault.readers"),
    (404, "has `make up` run with this client's keyVault setting?"),
])
def test_key_vault_refusals(outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, status: int,
                            message: str) -> None:
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    fake = FakeAzure(outputs["tenantId"], vault_status=status)
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "workday",
                               "--key-vault-secret-uri", SECRET_URI)
    assert code == 2
    assert message in text
    assert fake.uploads == []


def test_secret_from_an_environment_variable_and_usage_errors(outputs: dict[str, Any]) -> None:
    secret = outputs["clientCredentials"]["workday"]["clientSecret"]
    fake = FakeAzure(outputs["tenantId"])
    code, text, _ = run_client(fake, "--sign-in", "secret", "--tenant-id", outputs["tenantId"],
                               "--client-id", "abc", "--bulk-upload-url", outputs["bulkUploadUrl"],
                               "--credential-env", "HR_SECRET", environ={"HR_SECRET": secret})
    assert code == 0, text
    assert fake.token_forms[0]["client_secret"] == secret
    pem = outputs["clientCredentials"]["gen-cert"]["certificatePem"]
    code, text, _ = run_client(fake, "--sign-in", "certificate", "--tenant-id", "t", "--client-id", "c",
                               "--bulk-upload-url", outputs["bulkUploadUrl"], "--credential-env", "PEM",
                               environ={"PEM": pem})
    assert code == 2
    assert "needs one PEM with the certificate and its private key" in text
    without_secrets = {k: v for k, v in outputs.items() if k != "clientCredentials"} | {"clientCredentials": "[secret]"}
    path = Path(outputs["_path"]).with_name("public.json")
    path.write_text(json.dumps(without_secrets))
    code, text, _ = run_client(fake, "--outputs", str(path), "--client", "workday")
    assert code == 2
    assert "--show-secrets" in text
    code, text, _ = run_client(fake, "--outputs", str(path))
    assert code == 2
    assert "give --client, one of: workday, gen-cert, logic-app" in text


def test_the_stacks_key_vault_secret_is_read_when_configured(run_program: RunProgram, entra: OfflineEntra,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    vault_id = ("/subscriptions/3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b/resourceGroups/hr-rg/providers/"
                "Microsoft.KeyVault/vaults/hr-vault")
    run = run_program({
        "clients": {"hr-sync": {**secret_client(), "keyVault": {"vaultId": vault_id,
                                                                 "readers": [LOGIC_APP.object_id]}}},
        "provisioningApp": {"displayName": PROVISIONING_APP.display_name, "jobId": job_for(entra.tenant_id)},
    })
    # What the consumer holds: the non-secret outputs only (`pulumi stack output --json`).
    public = {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}
    path = tmp_path / "public.json"
    path.write_text(json.dumps(public))
    assert public["clients"]["hr-sync"]["keyVaultSecretUri"] == SECRET_URI
    (secret,) = run.of_type("azure-native:keyvault:Secret")
    fake = FakeAzure(run.outputs["tenantId"], vault_value=secret.inputs["properties"]["value"])
    code, text, _ = run_client(fake, "--outputs", str(path))
    assert code == 0, text
    assert fake.vault_reads == [("/secrets/hr-sync/", "https://vault.azure.net")]
    assert fake.token_forms[0]["client_secret"] == run.outputs["clientCredentials"]["hr-sync"]["clientSecret"]
    assert "accepted (202)" in text


def test_a_renewed_secret_entra_does_not_accept_yet_falls_back_to_the_previous_version(
        outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    fake = FakeAzure(outputs["tenantId"], vault_value="renewed-minutes-ago", previous_value="the-one-before",
                     not_yet_accepted="renewed-minutes-ago")
    code, text, _ = run_client(fake, "--outputs", outputs["_path"], "--client", "workday",
                               "--key-vault-secret-uri", SECRET_URI)
    assert code == 0, text
    assert [form["client_secret"] for form in fake.token_forms] == ["renewed-minutes-ago", "the-one-before"]
    assert f"Entra refused version {VERSION} (invalid_client)" in text
    assert f"signing in with the previous version ({PREVIOUS})" in text
    assert "renewed-minutes-ago" not in text
    assert "the-one-before" not in text
    assert len(fake.uploads) == 1
