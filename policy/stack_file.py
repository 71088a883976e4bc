"""The stack holds what its stack file declares, and nothing more: the ``stack-file`` policy and its whole-stack rule.

A pull request can add a client in code only (an app, a service principal, an upload grant, a
federated credential trusting any repository) and leave ``Pulumi.<stack>.yaml`` alone: the access diff
runs the base branch's code on the pull request's stack file, so it never shows that client, and every
other rule passes it. ``tools/policy-config.sh`` therefore hands the pack what the stack file declares
(``stackFile``, written by ``tools/stack/declared.py``), and:

* per resource, when it is registered (:func:`validate_declared`): a client component must be a declared
  client of that kind; a grant one of its client's declared permissions; a password, certificate, key or
  federated credential of its client's declared form (a federated credential with the declared issuer,
  subject and audience); a user-assigned identity the declared one; an owner of the provisioning app a
  declared client granted OwnedBy; the provisioning app declared with ``create``; a Key Vault secret in
  the declared vault and name, and a reader one the file lists. Targets known at registration are
  checked against what the file names: a grant's principal against the existing identity's resolved
  principal (``existingIdentityPrincipals``) or the adopted service principal, a credential's
  application against the adopted app, an owner's object against its client's existing or adopted
  principal, a reader's principal against ``keyVault.readers``. A principal or app the program creates
  in the same run is named nowhere in the file: the whole-stack rules (``stack_rules.py``) tie those to
  their client's own objects, in the preview every update runs first;
* over the whole stack (:func:`check_exact_match`): the same, and an exact match: every declared client
  has its component, every client exactly its declared grants, a federated client exactly its one
  credential, a Key Vault client exactly its declared readers, the provisioning app exactly its OwnedBy
  owners. Anything else is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs

from components.microsoft import ALLOWED_PERMISSIONS, UPLOAD_OWNED_BY
from components.settings.model import GUID_RE
from policy import resource_types as t
from policy.access_fields import SECRET_SCOPE
from policy.existing_identities import EXISTING_CONFIG
from policy.props import Check, Reading

STACK_FILE_CONFIG = "stackFile"
STACK_FILE_SCHEMA: dict[str, object] = {
    "type": "object",
    "description": "What Pulumi.<stack>.yaml declares (tools/stack/declared.py), as tools/policy-config.sh writes it.",
}
POLICY = "stack-file"
PERMISSION_BY_ROLE = {p.published_role_id.casefold(): value for value, p in ALLOWED_PERMISSIONS.items()}
OWNER_PREFIX = "provisioningApp-owner-"
_CREDENTIAL_FORMS = {t.APPLICATION_PASSWORD: ("secret", None), t.APPLICATION_CERTIFICATE: ("certificate", None),
                     t.FEDERATED_CREDENTIAL: ("federated", None), t.PRIVATE_KEY: ("certificate", "generate"),
                     t.SELF_SIGNED_CERT: ("certificate", "generate")}
_FILE = "the stack file (Pulumi.<stack>.yaml)"


def declared_of(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``stackFile`` declaration of the policy config, or None when it has none."""
    found = config.get(STACK_FILE_CONFIG)
    return found if isinstance(found, Mapping) and isinstance(found.get("clients"), Mapping) else None


def _eq(a: object, b: object) -> bool:
    return str(a).casefold() == str(b).casefold()


def _name_of(urn: str | None) -> str | None:
    return urn.rsplit("::", 1)[-1] if urn else None


class _Judge:
    """The rules on one resource, given the declaration and the existing identities' principals."""

    def __init__(self, declared: Mapping[str, Any], existing: Mapping[str, Any]) -> None:
        self.clients: Mapping[str, Any] = declared["clients"]
        self.app: Mapping[str, Any] | None = declared.get("provisioningApp")
        self.existing = existing

    def client(self, key: str | None) -> tuple[Mapping[str, Any] | None, str]:
        if key is None:
            return None, "cannot tell which client it belongs to"
        found = self.clients.get(key)
        return (found, "") if isinstance(found, Mapping) else (
            None, f"belongs to client {key!r}, which {_FILE} does not declare (clients.{key})")

    def principal_of(self, key: str, client: Mapping[str, Any]) -> str | None:
        """The principal the file names for a client: its existing identity's, or its adopted one's."""
        if client.get("identity") == "existing":  # a value that is no object id: existing_identities.py says so
            value = self.existing.get(key)
            return value if isinstance(value, str) and GUID_RE.match(value) else None
        return (client.get("adopt") or {}).get("servicePrincipal")

    def judge(self, typ: str, name: str, parent: str | None, p: Reading) -> list[str]:
        if typ in (t.SERVICE_PRINCIPAL_CLIENT, t.MANAGED_IDENTITY_CLIENT):
            return self._component(typ, name)
        if typ in (t.PROVISIONING_APP, t.APPLICATION_FROM_TEMPLATE, t.SYNCHRONIZATION_JOB, t.SYNCHRONIZATION_SECRET):
            return [] if self.app and self.app.get("create") else [
                f"is part of a provisioning app the stack creates, and {_FILE} declares no provisioningApp.create"]
        if typ == t.APPLICATION_OWNER:
            return self._owner(name, p)
        if typ not in _CHILD_TYPES:
            return []
        client, problem = self.client(parent)
        return [problem] if client is None or parent is None else self._child(typ, parent, client, p)

    def _child(self, typ: str, key: str, client: Mapping[str, Any], p: Reading) -> list[str]:
        if typ in (t.APPLICATION, t.SERVICE_PRINCIPAL):
            return [] if client.get("kind") == "servicePrincipal" else [
                f"belongs to client {key!r}, which is declared a {client.get('kind')}, not a servicePrincipal"]
        if typ == t.APP_ROLE_ASSIGNMENT:
            return self._grant(key, client, p)
        if typ == t.USER_ASSIGNED_IDENTITY:
            return self._identity(key, client, p)
        if typ == t.KEY_VAULT_SECRET:
            return self._vault_secret(key, client, p)
        if typ == t.ROLE_ASSIGNMENT:
            return self._reader(key, client, p)
        return self._credential(typ, key, client, p)

    def _component(self, typ: str, key: str) -> list[str]:
        client, problem = self.client(key)
        kind = "servicePrincipal" if typ == t.SERVICE_PRINCIPAL_CLIENT else "managedIdentity"
        if client is None:
            return [f"is a client added in code only: {problem}"]
        if client.get("kind") != kind:
            return [f"is a {kind} client, but clients.{key}.kind is {client.get('kind')!r}"]
        return []

    def _grant(self, key: str, client: Mapping[str, Any], p: Reading) -> list[str]:
        problems = []
        role = p.get("appRoleId")
        permission = PERMISSION_BY_ROLE.get(str(role).casefold()) if role is not None else None
        if role is not None and permission not in client.get("permissions", []):
            problems.append(f"grants {permission or role}, which clients.{key} is not declared to hold "
                            f"(declared: {', '.join(client.get('permissions', [])) or 'none'})")
        to, expected = p.get("principalObjectId"), self.principal_of(key, client)
        if to is not None and expected is not None and not _eq(to, expected):
            problems.append(f"grants to principal {to}, not to client {key!r}'s principal {expected} that "
                            f"{_FILE} names")
        return problems

    def _credential(self, typ: str, key: str, client: Mapping[str, Any], p: Reading) -> list[str]:
        credential = client.get("credential") or {}
        wanted, form = _CREDENTIAL_FORMS[typ]
        if credential.get("type") != wanted or (form is not None and credential.get("form") != form):
            shown = " ".join(str(credential.get(f)) for f in ("type", "form") if credential.get(f)) or "none"
            return [f"is a {typ.rsplit(':', 1)[-1]}, but clients.{key}.credential is {shown}"]
        problems = []
        adopted = (client.get("adopt") or {}).get("application")
        application = p.get("applicationId")
        if application is not None and adopted and not _eq(str(application).rsplit("/", 1)[-1], adopted):
            problems.append(f"is a credential of application {application}, not of client {key!r}'s adopted app "
                            f"({adopted}) that {_FILE} names")
        if typ == t.FEDERATED_CREDENTIAL:
            for field in ("issuer", "subject"):
                value = p.get(field)
                if value is not None and value != credential.get(field):
                    problems.append(f"trusts {field} {value!r}; clients.{key}.credential.{field} is "
                                    f"{credential.get(field)!r}")
            audiences = p.get("audiences")
            if isinstance(audiences, list) and sorted(audiences) != sorted(credential.get("audiences") or []):
                problems.append(f"accepts audiences {audiences}; clients.{key}.credential.audiences is "
                                f"{credential.get('audiences')}")
        return problems

    def _identity(self, key: str, client: Mapping[str, Any], p: Reading) -> list[str]:
        declared = client.get("userAssigned")
        if client.get("identity") != "userAssigned" or not isinstance(declared, Mapping):
            return [f"is a user-assigned identity, but clients.{key} declares none (userAssigned)"]
        for field, prop in (("name", "resourceName"), ("resourceGroupName", "resourceGroupName")):
            value = p.get(prop)
            if value is not None and not _eq(value, declared.get(field)):
                return [f"{prop} {value!r}; clients.{key}.userAssigned.{field} is {declared.get(field)!r}"]
        return []

    def _vault_secret(self, key: str, client: Mapping[str, Any], p: Reading) -> list[str]:
        vault = client.get("keyVault")
        if not isinstance(vault, Mapping):
            return [f"writes a Key Vault secret, but clients.{key} declares no keyVault"]
        for field in ("vaultName", "resourceGroupName", "secretName"):
            value = p.get(field)
            if value is not None and not _eq(value, vault.get(field)):
                return [f"{field} {value!r}; clients.{key}.keyVault gives {vault.get(field)!r}"]
        return []

    def _reader(self, key: str, client: Mapping[str, Any], p: Reading) -> list[str]:
        vault = client.get("keyVault")
        if not isinstance(vault, Mapping):
            return [f"gives a Key Vault reader, but clients.{key} declares no keyVault"]
        problems = []
        principal = p.get("principalId")
        if principal is not None and str(principal).casefold() not in {str(r).casefold() for r in vault["readers"]}:
            problems.append(f"gives principal {principal} Key Vault Secrets User; clients.{key}.keyVault.readers "
                            "does not list it")
        scope = p.get("scope")
        expected = f"{vault.get('vaultId')}/secrets/{vault.get('secretName')}"
        if scope is not None and SECRET_SCOPE.match(str(scope)) and not _eq(scope, expected):
            problems.append(f"is scoped to {scope}, not to clients.{key}.keyVault's secret {expected}")
        return problems

    def _owner(self, name: str, p: Reading) -> list[str]:
        if not (self.app and self.app.get("create")):
            return [f"makes an owner of a provisioning app the stack creates, and {_FILE} declares no "
                    "provisioningApp.create"]
        key = name.removeprefix(OWNER_PREFIX) if name.startswith(OWNER_PREFIX) else None
        client, problem = self.client(key)
        if client is None or key is None:
            return [f"makes an owner of the provisioning app that {problem}"]
        if UPLOAD_OWNED_BY not in client.get("permissions", []):
            return [f"makes client {key!r} an owner of the provisioning app; clients.{key} is not declared to hold "
                    f"{UPLOAD_OWNED_BY}"]
        holder, expected = p.get("ownerObjectId"), self.principal_of(key, client)
        if holder is not None and expected is not None and not _eq(holder, expected):
            return [f"makes {holder} an owner, not client {key!r}'s principal {expected} that {_FILE} names"]
        return []


_CHILD_TYPES = frozenset({t.APPLICATION, t.SERVICE_PRINCIPAL, t.APP_ROLE_ASSIGNMENT, t.USER_ASSIGNED_IDENTITY,
                          t.KEY_VAULT_SECRET, t.ROLE_ASSIGNMENT, *_CREDENTIAL_FORMS})


def _existing(config: Mapping[str, Any]) -> Mapping[str, Any]:
    found = config.get(EXISTING_CONFIG)
    return found if isinstance(found, Mapping) else {}


def validate_declared(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Each resource, as it is registered, is one that the stack file declares (see the module's docstring)."""
    declared = declared_of(args.get_config())
    if declared is None:
        return  # the whole-stack policy refuses a config without the stack file's declaration
    reading = Reading(args.props)
    # The engine sends each registration's parent URN in its options (step_generator.go, AnalyzerResourceOptions).
    parent = _name_of(getattr(args.opts, "parent", None))
    for problem in _Judge(declared, _existing(args.get_config())).judge(args.resource_type, args.name, parent,
                                                                          reading):
        report_violation(f"{args.name} ({args.resource_type}): {problem}", None)
    reading.finish()


def check_exact_match(check: Check, resources: Sequence[PolicyResource], config: Mapping[str, Any],
                      stack: str) -> None:
    """Every declared client, grant, credential, reader and owner is in the stack, and nothing else is."""
    declared = declared_of(config)
    root = next((r for r in resources if r.resource_type == t.STACK), None)
    if declared is None or declared.get("stack") != stack:
        why = ("has no stackFile" if declared is None else
               f"describes stack {declared.get('stack')!r}, not {stack!r}")
        check.report(f"the policy config {why}: nothing says what Pulumi.{stack}.yaml declares, so nothing can be "
                     "judged against it; run through `make up` / `make preview` or the pipeline, which call "
                     f"tools/policy-config.sh OUTPUT.json {stack}", root.urn if root else None)
        return
    components = {r.name: r for r in resources if r.resource_type in (t.SERVICE_PRINCIPAL_CLIENT,
                                                                       t.MANAGED_IDENTITY_CLIENT)}
    for key, client in declared["clients"].items():
        component = components.get(key)
        if component is None:
            check.report(f"clients.{key} is declared in Pulumi.{stack}.yaml, but the stack has no client component "
                         "for it: the code no longer builds what the file declares", root.urn if root else None)
            continue
        _exact_client(check, resources, component, key, client)
    app = declared.get("provisioningApp") or {}
    if app.get("create"):
        owned_by = {k for k, c in declared["clients"].items() if UPLOAD_OWNED_BY in c.get("permissions", [])}
        owners = {r.name.removeprefix(OWNER_PREFIX) for r in resources if r.resource_type == t.APPLICATION_OWNER}
        for key in sorted(owned_by - owners):
            check.report(f"clients.{key} holds {UPLOAD_OWNED_BY} and the stack creates the provisioning app, but the "
                         "stack makes it no owner of the app", root.urn if root else None)


def _exact_client(check: Check, resources: Sequence[PolicyResource], component: PolicyResource, key: str,
                  client: Mapping[str, Any]) -> None:
    granted = set()
    for grant in t.children(resources, component, t.APP_ROLE_ASSIGNMENT):
        reading = check.read(grant)
        granted.add(PERMISSION_BY_ROLE.get(str(reading.get("appRoleId")).casefold()))
        check.done(reading)
    missing = sorted(set(client.get("permissions", [])) - granted)
    if missing:
        check.refuse(component, f"holds no grant of {', '.join(missing)}, which clients.{key} declares")
    credential = client.get("credential") or {}
    if credential.get("type") == "federated":
        federated = t.children(resources, component, t.FEDERATED_CREDENTIAL)
        if len(federated) != 1:
            check.refuse(component, f"has {len(federated)} federated credentials; clients.{key} declares one")
    if client.get("identity") == "userAssigned" and not t.children(resources, component, t.USER_ASSIGNED_IDENTITY):
        check.refuse(component, f"has no user-assigned identity; clients.{key}.userAssigned declares one")
    vault = client.get("keyVault")
    if isinstance(vault, Mapping):
        given = set()
        for reader in t.children(resources, component, t.ROLE_ASSIGNMENT):
            reading = check.read(reader)
            given.add(str(reading.get("principalId")).casefold())
            check.done(reading)
        missing_readers = sorted({str(r).casefold() for r in vault["readers"]} - given)
        if missing_readers:
            check.refuse(component, f"gives no Key Vault reader role to {', '.join(missing_readers)}, which "
                                    f"clients.{key}.keyVault.readers lists")
