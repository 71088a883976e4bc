"""make verify: prove each client's Graph token carries exactly its granted permissions.

The tutorial's last step ("confirm that the permission was applied"), automated the way a
downstream client experiences it: get a client-credentials token for Microsoft Graph with
azure-identity, read the ``roles`` claim, compare it with the stack's ``graphPermissions``,
and (with a provisioning app) read the provisioning logs once.

Nothing secret is ever printed: not a client secret, not a key, not a token; only claims.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import HttpRequest as TransportRequest
from azure.core.pipeline.transport import HttpResponse as TransportResponse
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

from components.microsoft import GRAPH_SCOPE, LOG_PERMISSIONS
from tools.stack.outputs import StackOutputError, pulumi_stack_output
from tools.tenant.sign_in import show_sign_in_detail
from tools.tenant.tables import render_table

Transport = HttpTransport[TransportRequest, TransportResponse]
ROOT = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_NOTHING_CHECKED, EXIT_INTERNAL = 0, 1, 2, 3, 4
# What `pulumi stack output --json` prints for a secret output without --show-secrets.
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 (a placeholder, not a secret)
CACHE_DIR_NAME = "inbound-provisioning-access"


def default_outputs_file(stack: str) -> Path:
    """Where `--outputs` without FILE reads: the user's cache, outside the checkout (secrets in plaintext)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / CACHE_DIR_NAME / f"{stack}.outputs.json"

DESCRIPTION = """\
Prove that each client of a deployed stack gets a Microsoft Graph token whose `roles`
claim holds exactly the permissions the stack granted it, the way the downstream HR
client would get it (client-credentials flow, scope https://graph.microsoft.com/.default).

How each client is checked:
  secret            with clientCredentials.<client>.clientSecret from the stack outputs
  certificate       generated: with the certificate and key in clientCredentials;
                    bring-your-own: with --certificate CLIENT=PATH (PEM with the private key)
  managedIdentity   only with --on-azure, run on the Azure resource that holds the identity
  federated         only with --on-azure, run in the workload itself (AKS workload identity,
                    or GitHub Actions after azure/login as this client): its token comes
                    from the workload's own identity provider

The roles check decodes our own freshly issued token's payload and does not validate its
signature: it reads what Entra put in the token, it does not authenticate anyone.
With a provisioning app in the outputs, it also reads the provisioning logs once
(GET provisioningLogsUrl&$top=1) with each client that holds a log permission.

The outputs hold secrets in plaintext: write them outside the checkout, for example
  pulumi stack output --stack dev --json --show-secrets > ~/.cache/inbound-provisioning-access/dev.outputs.json
and read that file with `--outputs` alone (it defaults to that path, under $XDG_CACHE_HOME if set).

Exit status:
  0  every checked client holds exactly its grants (at least one client was checked)
  1  a mismatch: a missing or extra role, a token for another identity or tenant, logs refused
  2  a usage or sign-in error: missing or unreadable outputs, outputs written without
     --show-secrets, an unknown --client, a certificate not given, a failed sign-in
  3  nothing was checked: every selected client was skipped here (managed identities and
     federated clients without --on-azure); --allow-skipped turns this into 0
  4  a bug in make verify itself; --debug prints the traceback
Secrets and tokens are never printed.
"""


@dataclass
class ClientCheck:
    """The verdict for one client."""

    key: str
    principal: str
    expected: list[str]
    token_roles: list[str] | None = None
    logs: str = "-"
    verdict: str = "OK"
    reasons: list[str] = field(default_factory=list)


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT.  Our own token, just issued: no signature validation, on purpose."""
    try:
        payload = token.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as error:
        raise ValueError("the access token is not a JWT") from error
    return claims


def _read_outputs_file(path: Path) -> dict[str, Any]:
    show = f"`pulumi stack output --json --show-secrets > {default_outputs_file('<stack>')}`"
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise SystemExit(f"{path} does not exist; write it with {show}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from error
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}:{error.lineno}: not JSON ({error.msg}); write it with {show}") from error
    if not isinstance(loaded, dict):
        raise SystemExit(f"{path}: expected the JSON object {show} prints, got {type(loaded).__name__}")
    return loaded


def _inside_checkout(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT)


def read_outputs(stack: str, outputs_file: str | None, secrets: bool = True) -> dict[str, Any]:
    """Stack outputs (with secrets unless ``secrets`` is false), from a file or from the Pulumi CLI."""
    if outputs_file:
        return _read_outputs_file(Path(outputs_file).expanduser())
    try:
        parsed = pulumi_stack_output(stack, ["--show-secrets"] if secrets else [])
    except StackOutputError as error:
        hint = ("; give the outputs with --outputs FILE, or --outputs alone to read "
                f"{default_outputs_file(stack)}") if "not on PATH" in str(error) else ""
        raise SystemExit(f"{error}{hint}") from error
    if not isinstance(parsed, dict):
        raise SystemExit("pulumi stack output did not print a JSON object")
    return parsed


def _secret_material(key: str, outputs: Mapping[str, Any]) -> Mapping[str, Any] | str:
    """This client's entry in clientCredentials, or why it is not there (a usage message)."""
    every = outputs.get("clientCredentials")
    if every == SECRET_PLACEHOLDER:
        return ("usage: these outputs were written without --show-secrets (clientCredentials is "
                "\"[secret]\"); write them with `pulumi stack output --json --show-secrets`")
    material = every.get(key) if isinstance(every, Mapping) else None
    return material if isinstance(material, Mapping) else {}


def _credential(key: str, client: Mapping[str, Any], outputs: Mapping[str, Any], args: argparse.Namespace,
                transport: Transport | None) -> TokenCredential | str:
    """A credential for the client, or the reason it is not checked here."""
    tenant, client_id = outputs.get("tenantId"), client.get("clientId")
    if not isinstance(tenant, str) or not isinstance(client_id, str):
        return "usage: the outputs lack tenantId or this client's clientId; are they this program's stack outputs?"
    kwargs: dict[str, Any] = {"transport": transport} if transport is not None else {}
    kind = client.get("credentialType")
    material = _secret_material(key, outputs) if kind in ("secret", "certificate") else {}
    if isinstance(material, str) and not (kind == "certificate" and key in args.certificates):
        return material
    material = material if isinstance(material, Mapping) else {}
    if kind == "secret":
        if not isinstance(material.get("clientSecret"), str):
            return f"usage: no clientCredentials.{key}.clientSecret in these outputs"
        return ClientSecretCredential(tenant, client_id, material["clientSecret"], **kwargs)
    if kind == "certificate":
        if isinstance(material.get("privateKeyPem"), str) and isinstance(material.get("certificatePem"), str):
            pem = (material["privateKeyPem"] + material["certificatePem"]).encode()
            return CertificateCredential(tenant, client_id, certificate_data=pem, **kwargs)
        if key in args.certificates:
            return CertificateCredential(tenant, client_id, certificate_path=args.certificates[key], **kwargs)
        return f"usage: bring-your-own certificate; give --certificate {key}=PATH (PEM with its private key)"
    if kind == "managedIdentity":
        if not args.on_azure:
            return "not checked: managed identity tokens exist only on the Azure resource; run there with --on-azure"
        # A user-assigned identity is named by its client id; a system-assigned one is the default.
        identity_id = client_id if "resourceId" in client else None
        return ManagedIdentityCredential(client_id=identity_id, **kwargs)
    if kind == "federated":
        if not args.on_azure:
            return ("checked by its workload: a federated credential has no secret here; its token comes from "
                    "the workload's identity provider (GitHub Actions, AKS); run there with --on-azure")
        # In the workload: AKS workload identity from its environment, or the Azure CLI that
        # azure/login signed in with the workload's federated token.
        return DefaultAzureCredential(workload_identity_client_id=client_id, **kwargs)
    return f"usage: unknown credentialType {kind!r}"


def _check_logs(url: str, credential: TokenCredential, transport: Transport | None) -> tuple[str, str | None]:
    policies = [RetryPolicy(retry_total=0), BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)]
    client: PipelineClient[Any, Any] = PipelineClient(base_url=url, policies=policies, transport=transport)
    response = client.send_request(HttpRequest("GET", url + "&$top=1"))
    if response.status_code == 200:
        return "OK (200)", None
    if response.status_code == 403:
        return "403", ("provisioning logs refused (403): the log permission is not granted, or the token "
                       "predates the grant")
    return str(response.status_code), f"provisioning logs answered {response.status_code}"


def check_client(key: str, client: Mapping[str, Any], outputs: Mapping[str, Any], args: argparse.Namespace,
                 transport: Transport | None) -> ClientCheck:
    expected = sorted(client.get("graphPermissions", []))
    check = ClientCheck(key, client.get("servicePrincipalObjectId", "?"), expected)
    credential = _credential(key, client, outputs, args, transport)
    if isinstance(credential, str):
        check.verdict = ("USAGE" if credential.startswith("usage")
                         else "BY-WORKLOAD" if credential.startswith("checked by its workload") else "SKIPPED")
        check.reasons.append(credential)
        return check
    try:
        token = credential.get_token(GRAPH_SCOPE).token
    except ClientAuthenticationError as error:
        check.verdict = "AUTH-ERROR"
        summary = str(error.message or error).splitlines()[0][:300]
        check.reasons.append(f"sign-in failed: {summary}. Check the credential is current (credentialExpiresAt) "
                             "and that the client and tenant ids are this stack's")
        return check
    except AzureError as error:
        check.verdict = "AUTH-ERROR"
        check.reasons.append(f"token request failed ({type(error).__name__}): is Entra reachable from here?")
        return check
    try:
        claims = decode_claims(token)
    except ValueError as error:
        check.verdict = "AUTH-ERROR"
        check.reasons.append(str(error))
        return check
    check.token_roles = sorted(claims.get("roles", []))
    missing = sorted(set(expected) - set(check.token_roles))
    extra = sorted(set(check.token_roles) - set(expected))
    token_client = claims.get("appid") or claims.get("azp")
    if token_client and token_client != client.get("clientId"):
        check.verdict = "MISMATCH"
        check.reasons.append(f"wrong identity: the token is for client {token_client}, not {client.get('clientId')}; "
                             "sign the workload in as this client")
    if claims.get("tid") and claims["tid"] != outputs["tenantId"]:
        check.verdict = "MISMATCH"
        check.reasons.append(f"wrong tenant: the token is from {claims['tid']}, the stack is {outputs['tenantId']}")
    if missing:
        check.verdict = "MISMATCH"
        cause = ("a managed identity's token is cached by Azure for up to 24 hours, so a new grant can take "
                 "that long to appear" if client.get("credentialType") == "managedIdentity"
                 else "the token may predate the grant (wait a few minutes and run again)")
        check.reasons.append(f"missing {', '.join(missing)}: not granted (run `make up`), or {cause}")
    if extra:
        check.verdict = "MISMATCH"
        check.reasons.append(f"extra {', '.join(extra)}: granted outside this stack (portal or script); "
                             "remove it for least privilege, or add it to graphPermissions")
    logs_url = outputs.get("provisioningLogsUrl")
    if logs_url and LOG_PERMISSIONS & set(expected):
        try:
            check.logs, problem = _check_logs(logs_url, credential, transport)
        except AzureError as error:
            check.logs, problem = "error", f"provisioning logs request failed: {type(error).__name__}"
        if problem:
            check.verdict = "MISMATCH"
            check.reasons.append(problem)
    return check


def render(checks: Sequence[ClientCheck], out: TextIO) -> None:
    rows = [[c.key, c.principal, ", ".join(c.expected),
             "-" if c.token_roles is None else ", ".join(c.token_roles) or "(none)", c.logs, c.verdict]
            for c in checks]
    render_table(["client", "principal", "expected roles", "token roles", "logs", "verdict"], rows,
                 [(c.key, reason) for c in checks for reason in c.reasons], out)


def _certificate_arg(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError("expected CLIENT=PATH")
    return key, path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make verify STACK=<stack> ARGS=...", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="the stack whose outputs to check (make verify sets it from STACK)")
    parser.add_argument("--outputs", metavar="FILE", nargs="?", const="",
                        help="read outputs from FILE (`pulumi stack output --json --show-secrets`) instead of the "
                             "CLI; without FILE, from ~/.cache/inbound-provisioning-access/<stack>.outputs.json")
    parser.add_argument("--certificate", metavar="CLIENT=PATH", type=_certificate_arg, action="append", default=[],
                        help="PEM file (certificate and private key) of a bring-your-own-certificate client")
    parser.add_argument("--on-azure", action="store_true",
                        help="also check managed identities and federated clients (run where they sign in)")
    parser.add_argument("--client", action="append", default=[], metavar="KEY", help="check only these clients")
    parser.add_argument("--deployer", action="store_true",
                        help="instead of signing in as each client, read each principal's grants through Graph as "
                             "the deployer (needs Application.Read.All): for identities that cannot run this, such "
                             "as the tutorial's Logic App; with a provisioning app, also its job's state and "
                             "notification settings (needs Synchronization.Read.All): a paused job is reported; a "
                             "quarantined, "
                             "deleted or unreadable one, or one without a notification email, is a failure")
    parser.add_argument("--allow-skipped", action="store_true",
                        help="exit 0, not 3, when every selected client was skipped here")
    parser.add_argument("--debug", action="store_true",
                        help="print a traceback on an unexpected error, and what each sign-in method answered")
    args = parser.parse_args(argv)
    args.certificates = dict(args.certificate)
    if not args.stack and not args.outputs:
        parser.error("give --stack (make verify STACK=<stack>) or --outputs FILE")
    if args.outputs == "":
        args.outputs = str(default_outputs_file(args.stack))
    return args


def main(argv: Sequence[str] | None = None, transport: Transport | None = None,
         out: TextIO = sys.stdout, credential: TokenCredential | None = None) -> int:
    """Run the checks; ``transport`` replaces azure-core's HTTP transport (tests)."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_USAGE
    show_sign_in_detail(args.debug)
    try:
        return _verify(args, transport, out, credential)
    except Exception as error:  # a bug here: one clean line, the traceback only when asked for
        if args.debug:
            traceback.print_exc(file=out)
        out.write(f"error: make verify failed unexpectedly ({type(error).__name__}); run with --debug "
                  "(ARGS=--debug) for the traceback and report it\n")
        return EXIT_INTERNAL


def _verify(args: argparse.Namespace, transport: Transport | None, out: TextIO,
            credential: TokenCredential | None) -> int:
    try:
        # --deployer reads ids only: no secret is decrypted for it (the weekly run's auditor has no passphrase).
        outputs = read_outputs(args.stack, args.outputs, secrets=not args.deployer)
    except SystemExit as error:
        out.write(f"error: {error}\n")
        return EXIT_USAGE
    if args.outputs and _inside_checkout(Path(args.outputs).expanduser()):
        out.write(f"warning: {args.outputs} is inside the checkout and holds secrets in plaintext; keep it under "
                  f"{default_outputs_file('<stack>').parent} (git ignores *.outputs.json, but not every copy)\n")
    clients = outputs.get("clients")
    if not isinstance(clients, Mapping) or not all(isinstance(c, Mapping) for c in clients.values()):
        out.write("error: these outputs have no `clients` map; are they this program's stack outputs?\n")
        return EXIT_USAGE
    unknown = [k for k in args.client if k not in clients]
    if unknown:
        out.write(f"error: no client {', '.join(unknown)} in these outputs; "
                  f"valid keys: {', '.join(clients) or '(none)'}\n")
        return EXIT_USAGE
    selected = [k for k in clients if not args.client or k in args.client]
    if not selected:
        out.write("error: no clients to check in these outputs\n")
        return EXIT_USAGE
    if args.deployer:
        return _deployer(outputs, selected, credential, transport, out)
    checks = [check_client(k, clients[k], outputs, args, transport) for k in selected]
    render(checks, out)
    verdicts = {c.verdict for c in checks}
    if verdicts & {"USAGE", "AUTH-ERROR"}:
        return EXIT_USAGE
    if "MISMATCH" in verdicts:
        return EXIT_MISMATCH
    if not verdicts & {"OK"}:
        out.write("nothing was checked: every selected client was skipped here (see above); "
                  "pass --allow-skipped to accept that\n")
        return EXIT_OK if args.allow_skipped else EXIT_NOTHING_CHECKED
    return EXIT_OK


def _deployer(outputs: Mapping[str, Any], selected: Sequence[str], credential: TokenCredential | None,
              transport: Transport | None, out: TextIO) -> int:
    """--deployer: the grants as Graph records them, read by the signed-in deployer, and the provisioning job's
    state and notification settings (tools/verify/deployer.py, job.py)."""
    from tools.tenant.graph_reader import GraphAccessError, GraphReader, deployer_credential  # noqa: PLC0415
    from tools.tenant.ownership import OutputsError  # noqa: PLC0415
    from tools.verify import deployer as deployer_verify  # noqa: PLC0415 (only this mode needs it)
    from tools.verify.job import provisioning_job  # noqa: PLC0415

    try:
        reader = GraphReader(credential or deployer_credential(), transport)
        return deployer_verify.run(outputs["clients"], selected, reader, out, provisioning_job(outputs))
    except (GraphAccessError, OutputsError) as error:
        out.write(f"error: {error}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
