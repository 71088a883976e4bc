"""The example HR client's command line: sign in, then post one SCIM BulkRequest to bulkUploadUrl.

Exit status: 0 accepted (202); 1 refused or throttled by Graph; 2 a usage, Key Vault or
sign-in problem.  Neither the credential nor the token is ever printed.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from azure.core import PipelineClient
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import HttpRequest as TransportRequest
from azure.core.pipeline.transport import HttpResponse as TransportResponse
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse

from .bulk_request import CONTENT_TYPE, SAMPLE_REQUEST, BulkRequestError, load_bulk_request, render_bulk_request
from .sign_in import (
    GRAPH_SCOPE,
    SIGN_IN_BY_CREDENTIAL_TYPE,
    SIGN_IN_FORMS,
    SignInError,
    graph_credential,
    material_from_outputs,
    not_yet_accepted,
    previous_key_vault_secret,
    read_key_vault_secret,
    vault_credential,
)

Transport = HttpTransport[TransportRequest, TransportResponse]
EXIT_ACCEPTED, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
# Graph throttles bulkUpload at 40 requests per second (its API reference); wait what it asks, within reason.
DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER = 5.0, 120.0

DESCRIPTION = """\
Post one SCIM BulkRequest to the provisioning app's bulkUpload endpoint, signed in as an HR
client of the stack.  The stack's values come from its outputs (--outputs FILE --client KEY,
`pulumi stack output --json`) or from --tenant-id, --client-id and --bulk-upload-url.

Where a secret or certificate comes from, first match wins:
  --key-vault-secret-uri  Key Vault (the stack's clients.<key>.keyVaultSecretUri, also taken from
                          --outputs), read as this machine's managed identity, one of the
                          client's keyVault.readers (--vault-sign-in azure-cli: as `az login`)
  --credential-env VAR    an environment variable, e.g. an App Service Key Vault reference
  --credential-file PATH  a file, e.g. a bring-your-own certificate's PEM with its private key
  --outputs               clientCredentials.<key>, when written with --show-secrets
A certificate is one PEM holding the private key and the certificate.
"""


def parse_args(argv: Sequence[str], environ: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.hr_client", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", metavar="FILE", help="the stack's outputs, `pulumi stack output --json`")
    parser.add_argument("--client", metavar="KEY", help="this client's key in the outputs' clients")
    parser.add_argument("--tenant-id", default=environ.get("AZURE_TENANT_ID"), help="(env AZURE_TENANT_ID)")
    parser.add_argument("--client-id", default=environ.get("AZURE_CLIENT_ID"), help="(env AZURE_CLIENT_ID)")
    parser.add_argument("--bulk-upload-url", default=environ.get("BULK_UPLOAD_URL"), help="(env BULK_UPLOAD_URL)")
    parser.add_argument("--sign-in", choices=SIGN_IN_FORMS,
                        help="how to sign in (default: the client's credentialType in --outputs)")
    parser.add_argument("--key-vault-secret-uri", default=environ.get("KEY_VAULT_SECRET_URI"),
                        help="read the secret or certificate from Key Vault (env KEY_VAULT_SECRET_URI)")
    parser.add_argument("--vault-sign-in", choices=("managed-identity", "azure-cli"), default="managed-identity",
                        help="who reads Key Vault (default: this machine's managed identity)")
    parser.add_argument("--vault-identity-client-id", metavar="ID",
                        help="the user-assigned managed identity that reads Key Vault")
    parser.add_argument("--managed-identity-client-id", metavar="ID",
                        help="--sign-in managed-identity: a user-assigned identity's client id")
    parser.add_argument("--credential-env", metavar="VAR", help="read the secret or certificate PEM from VAR")
    parser.add_argument("--credential-file", metavar="PATH", help="read the secret or certificate PEM from PATH")
    parser.add_argument("--request", metavar="FILE", type=Path, default=SAMPLE_REQUEST,
                        help="the BulkRequest to post (default: sample-request.json beside this program)")
    parser.add_argument("--dry-run", action="store_true", help="print the request instead of signing in and posting")
    parser.add_argument("--max-attempts", type=int, default=3, help="attempts when throttled (429), default 3")
    args = parser.parse_args(argv)
    if args.max_attempts < 1:
        parser.error("--max-attempts must be at least 1")
    return args


def _stack_values(args: argparse.Namespace) -> dict[str, Any]:
    """This client's entry and the stack's top-level values from --outputs, if given."""
    if not args.outputs:
        return {}
    try:
        outputs = json.loads(Path(args.outputs).expanduser().read_text())
    except (OSError, ValueError) as error:
        raise SignInError(f"cannot read the outputs {args.outputs}: {error}") from error
    clients = outputs.get("clients") if isinstance(outputs, dict) else None
    if not isinstance(clients, dict):
        raise SignInError(f"{args.outputs} has no `clients` map: is it this stack's `pulumi stack output --json`?")
    if args.client is None and len(clients) == 1:
        args.client = next(iter(clients))
    if args.client not in clients:
        unknown = "" if args.client is None else f"{args.outputs} has no client {args.client!r}; "
        raise SignInError(f"{unknown}give --client, one of: {', '.join(clients) or '(none)'}")
    client = clients[args.client]
    args.tenant_id = args.tenant_id or outputs.get("tenantId")
    args.client_id = args.client_id or client.get("clientId")
    args.bulk_upload_url = args.bulk_upload_url or outputs.get("bulkUploadUrl")
    if not (args.credential_env or args.credential_file):  # a source given on the command line wins
        args.key_vault_secret_uri = args.key_vault_secret_uri or client.get("keyVaultSecretUri")
    if args.sign_in is None:
        args.sign_in = SIGN_IN_BY_CREDENTIAL_TYPE.get(client.get("credentialType"))
        if args.sign_in is None:
            raise SignInError(f"client {args.client!r} is {client.get('credentialType')!r}: it signs in in its own "
                              "workload (federated); give --sign-in to sign in otherwise")
    if args.sign_in == "managed-identity" and "resourceId" in client:
        args.managed_identity_client_id = args.managed_identity_client_id or client.get("clientId")
    return {"outputs": outputs}


def _material(args: argparse.Namespace, stack: Mapping[str, Any], environ: Mapping[str, str],
              transport: Transport | None, out: TextIO) -> str | None:
    """The secret or certificate PEM, from the first source configured."""
    kwargs: dict[str, Any] = {"transport": transport} if transport is not None else {}
    if args.sign_in == "managed-identity":
        return None
    if args.key_vault_secret_uri:
        reader = vault_credential(args.vault_sign_in, args.vault_identity_client_id, **kwargs)
        secret = read_key_vault_secret(args.key_vault_secret_uri, reader, **kwargs)
        out.write(f"read the {args.sign_in} from Key Vault (version {secret.version}, content type "
                  f"{secret.content_type or 'none'})\n")
        args.key_vault_version = secret.version
        return secret.value
    local = _env_or_file(args, environ)
    if local is not None:
        return local
    if "outputs" in stack:
        return material_from_outputs(stack["outputs"], args.client)
    return None


def _env_or_file(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The secret or certificate PEM from --credential-env or --credential-file (None: neither given)."""
    if args.credential_env:
        if args.credential_env not in environ:
            raise SignInError(f"environment variable {args.credential_env} is not set")
        return environ[args.credential_env]
    if args.credential_file:
        try:
            return Path(args.credential_file).expanduser().read_text()
        except OSError as error:
            raise SignInError(f"cannot read {args.credential_file}: {error.strerror or error}") from error
    return None


def _graph(args: argparse.Namespace, material: str | None,
           transport: Transport | None) -> PipelineClient[HttpRequest, HttpResponse]:
    """A pipeline to Graph that signs in as the client with ``material``."""
    kwargs: dict[str, Any] = {"transport": transport} if transport is not None else {}
    credential = graph_credential(args.sign_in, args.tenant_id, args.client_id, material,
                                  managed_identity_client_id=args.managed_identity_client_id, **kwargs)
    policies = [RetryPolicy(retry_total=0), BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)]
    return PipelineClient(base_url=args.bulk_upload_url, policies=policies, transport=transport)


def _previous_version(args: argparse.Namespace, error: ClientAuthenticationError, transport: Transport | None,
                      out: TextIO) -> str | None:
    """The Key Vault secret's previous version, when Entra refused the newest as an invalid client: right after a
    renewal the new credential may not have reached every Entra replica yet (minutes), while the previous one
    stays valid through the stack's 14-day overlap."""
    if not args.key_vault_secret_uri or not not_yet_accepted(error):
        return None
    kwargs: dict[str, Any] = {"transport": transport} if transport is not None else {}
    reader = vault_credential(args.vault_sign_in, args.vault_identity_client_id, **kwargs)
    previous = previous_key_vault_secret(args.key_vault_secret_uri, reader, getattr(args, "key_vault_version", None),
                                         **kwargs)
    if previous is None:
        return None
    out.write(f"Entra refused version {getattr(args, 'key_vault_version', None)} (invalid_client): a credential "
              "renewed minutes ago may not be accepted everywhere yet; signing in with the previous version "
              f"({previous.version}), which stays valid through the 14-day overlap; try the newest again later\n")
    return previous.value


def _retry_after(response: HttpResponse) -> float:
    """Seconds to wait, from Retry-After (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError):  # neither seconds nor an HTTP date
            parsed = None
        seconds = parsed.timestamp() - time.time() if parsed else DEFAULT_RETRY_AFTER
    if math.isnan(seconds):
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _graph_error(response: HttpResponse) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '?')}: {error.get('message', '')}".strip()
    except (ValueError, AttributeError):
        return response.text()[:300]


def upload(url: str, body: str, pipeline: PipelineClient[HttpRequest, HttpResponse], out: TextIO,
           sleep: Callable[[float], None], max_attempts: int) -> int:
    """POST the BulkRequest; wait and try again while throttled."""
    for attempt in range(1, max_attempts + 1):
        request = HttpRequest("POST", url, headers={"Content-Type": CONTENT_TYPE}, content=body.encode())
        response = pipeline.send_request(request)
        status = response.status_code
        if status == 202:
            out.write(f"accepted (202): the provisioning service processes it asynchronously; its provisioning "
                      f"logs: {response.headers.get('Location', '(no Location header)')}\n")
            return EXIT_ACCEPTED
        if status == 429 and attempt < max_attempts:
            wait = _retry_after(response)
            out.write(f"throttled (429), attempt {attempt} of {max_attempts}: waiting {wait:g} s (Retry-After)\n")
            sleep(wait)
            continue
        out.write(_refusal(status, _graph_error(response), max_attempts))
        return EXIT_REFUSED
    raise AssertionError("unreachable")


def _refusal(status: int, error: str, max_attempts: int) -> str:
    if status == 403:
        return (f"refused (403) {error}\n  this client lacks SynchronizationData-User.Upload (or holds "
                "...Upload.OwnedBy without owning the provisioning app), or its token predates the grant: "
                "check with `make verify`\n")
    if status == 429:
        return (f"throttled (429) {max_attempts} times {error}\n  bulkUpload allows 40 requests per second and "
                "2,000 (P1/P2) or 6,000 (ID Governance) per 24 hours: send up to 50 operations per call\n")
    if status == 400:
        return f"refused as malformed (400) {error}\n  is Content-Type application/scim+json?\n"
    if status == 401:
        return f"not signed in (401) {error}\n"
    if status == 404:
        return f"no such provisioning job (404) {error}\n  is bulkUploadUrl this stack's?\n"
    return f"answered {status} {error}\n"


def main(argv: Sequence[str] | None = None, *, transport: Transport | None = None, out: TextIO = sys.stdout,
         sleep: Callable[[float], None] = time.sleep, environ: Mapping[str, str] = os.environ) -> int:
    """Run the client; ``transport`` replaces azure-core's HTTP transport (tests)."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv, environ)
    except SystemExit as exit_:
        return EXIT_ACCEPTED if exit_.code == 0 else EXIT_USAGE
    try:
        stack = _stack_values(args)
        request = load_bulk_request(args.request)
        if not args.bulk_upload_url:
            where = (f"{args.outputs} has no bulkUploadUrl: the stack has no provisioningApp (add one: "
                     "docs/provisioning-app.md)" if args.outputs else "no bulkUploadUrl")
            raise SignInError(f"{where}; give --outputs from a stack with a provisioningApp, or --bulk-upload-url")
        body = render_bulk_request(request)
        if args.dry_run:
            if args.sign_in != "managed-identity" and not args.key_vault_secret_uri:
                # What needs no sign-in fails as in the real run: an unset variable, an unreadable file.
                _env_or_file(args, environ)
            out.write(f"POST {args.bulk_upload_url}\nContent-Type: {CONTENT_TYPE}\n"
                      "Authorization: Bearer <a token for Microsoft Graph; not requested in a dry run>\n\n"
                      f"{body}\n")
            return EXIT_ACCEPTED
        if args.sign_in is None:
            raise SignInError("give --sign-in (secret, certificate or managed-identity), or --outputs")
        material = _material(args, stack, environ, transport, out)
        try:
            return upload(args.bulk_upload_url, body, _graph(args, material, transport), out, sleep, args.max_attempts)
        except ClientAuthenticationError as error:
            previous = _previous_version(args, error, transport, out)
            if previous is None:
                raise
            return upload(args.bulk_upload_url, body, _graph(args, previous, transport), out, sleep, args.max_attempts)
    except (BulkRequestError, SignInError) as error:
        out.write(f"error: {error}\n")
        return EXIT_USAGE
    except ClientAuthenticationError as error:
        summary = str(error.message or error).splitlines()[0][:300]
        out.write(f"error: sign-in failed: {summary}\n  is the credential current (credentialExpiresAt) and the "
                  "client and tenant this stack's?\n")
        return EXIT_USAGE
    except AzureError as error:
        out.write(f"error: request failed ({type(error).__name__}): is Entra reachable from here?\n")
        return EXIT_USAGE
