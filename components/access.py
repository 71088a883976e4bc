"""``InboundProvisioningAccess``: the whole program as one component, for this stack and for the package.

The stack program (``__main__.py``) builds it from stack config; the component package
(``package/``, ``components/package.py``) hands it another language's args.  Either way the
args are the stack config's shape (the same keys, camelCase), are validated by
:func:`components.settings.parse_settings` with the same messages and key paths, and one
``SettingsError`` is raised before any resource, the component itself included, is registered.

Its children keep the names they had when the stack program registered them at the top level,
and an alias to that old parent: a stack deployed before the component existed plans no
replacement (``tests/test_access.py`` proves it with the deploy simulation).

This module does not use ``from __future__ import annotations``: the package's schema is inferred
from these annotations at run time, and postponed (string) annotations would hide them.
"""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, TypedDict, cast

import pulumi

from components.directory import FoundPrincipal, Tenant, find_service_principals, read_tenant
from components.graph_grants import role_ids_for
from components.managed_identity import DeferredPrincipal, ManagedIdentityClient, ManagedIdentityClientArgs
from components.microsoft import (
    GRAPH_SCOPE,
    UPLOAD_OWNED_BY,
    bulk_upload_url,
    provisioning_logs_url,
    token_endpoint,
)
from components.provisioning_app import ProvisioningApp, ProvisioningAppArgs
from components.service_principal_client import ServicePrincipalClient, ServicePrincipalClientArgs
from components.settings.clients import same_principal_problem
from components.settings.model import ManagedIdentityClientSettings, Settings
from components.settings.parse import parse_settings
from components.settings.problems import Problem, SettingsError
from components.settings.stack_config import NAMESPACE, read_stack_config

TYPE = f"{NAMESPACE}:index:InboundProvisioningAccess"

Client = ServicePrincipalClient | ManagedIdentityClient

# Every arg is optional in the schema (``total=False``): a missing value is reported by
# parse_settings, with every other problem, in the one error the stack program gives, rather
# than by the provider's first "Missing required input".  The docstrings say what is required.
# Keys are camelCase on purpose: they are the stack config's keys, so a config block and a
# package call read the same and the key paths in errors are the same.


class GeneratedCertificateArgs(TypedDict, total=False):
    """A self-signed certificate and RSA key the stack generates (pulumi-tls) and renews with overlap."""

    subject: str
    """Required. The certificate's common name (1-64 characters)."""
    validityDays: int
    """Days each certificate is valid for (default 365)."""
    rotationDays: int
    """A new certificate every this many days (default: picked from validityDays)."""


class CredentialArgs(TypedDict, total=False):
    """How a servicePrincipal client signs in: one object whose ``type`` says which form it is."""

    type: str
    """Required. ``secret``, ``certificate`` or ``federated``."""
    lifetimeDays: int
    """secret: days each secret is valid for (default 180)."""
    rotationDays: int
    """secret: a new secret every this many days (default: picked from lifetimeDays)."""
    pem: list[str]
    """certificate: the HR client's public certificates, PEM (current, then next); or generate instead."""
    generate: GeneratedCertificateArgs
    """certificate: generate the certificate instead (the private key is in the stack's secret state)."""
    issuer: str
    """federated: the external identity provider's issuer URL (https)."""
    subject: str
    """federated: the external workload's subject, for example ``repo:org/repo:environment:prod``."""
    audiences: list[str]
    """federated: exactly one token audience (default ``api://AzureADTokenExchange``)."""


class AdoptArgs(TypedDict, total=False):
    """Objects that exist already (made by the tutorial or in the portal), imported instead of created."""

    application: str
    """servicePrincipal clients: the object id of the app registration to import (with servicePrincipal)."""
    servicePrincipal: str
    """servicePrincipal clients: the object id of its service principal."""
    grants: dict[str, str]
    """App role assignment ids to import, by permission value."""


class ExistingIdentityArgs(TypedDict, total=False):
    """A managed identity that exists already, found by exactly one of these."""

    displayName: str
    """Its display name (must match exactly one service principal)."""
    objectId: pulumi.Input[str]
    """Its object id; may be another resource's output (a Logic App's principalId), then checked once known."""
    clientId: str
    """Its client id."""


class UserAssignedIdentityArgs(TypedDict, total=False):
    """A user-assigned managed identity the stack creates."""

    name: str
    """Required. 3-128 characters of letters, digits, - and _."""
    resourceGroupName: str
    """Required. An existing resource group."""
    location: str
    """Required. An Azure region as ARM spells it, for example ``westeurope``."""
    tags: dict[str, str]
    """Tags of the identity."""


class ClientArgs(TypedDict, total=False):
    """One HR client: an app registration with its own credential, or a managed identity."""

    kind: str
    """Required. ``servicePrincipal`` or ``managedIdentity``."""
    displayName: str
    """servicePrincipal: the app registration's display name (default ``inbound-provisioning-access-<stack>-<key>``)."""
    graphPermissions: list[str]
    """Graph application permissions of this client (default: the top-level graphPermissions)."""
    credential: CredentialArgs
    """servicePrincipal: required; how it signs in."""
    existing: ExistingIdentityArgs
    """managedIdentity: an identity that exists (exactly one of existing and userAssigned)."""
    userAssigned: UserAssignedIdentityArgs
    """managedIdentity: a user-assigned identity to create."""
    adopt: AdoptArgs
    """Existing objects to import (see `make adopt`)."""
    protect: bool
    """Overrides the top-level protect for this client (``false`` first, to remove it from a protected stack)."""


class ProvisioningAppCreateArgs(TypedDict, total=False):
    """A provisioning app this stack creates from the gallery, with its started job."""

    target: str
    """``entraId`` (default, cloud-only users) or ``activeDirectory`` (on-premises AD)."""
    displayName: str
    """The created app's display name (default ``inbound-provisioning-access-<stack>``)."""
    notificationEmail: str
    """Required. Where Entra sends quarantine and failure notices."""
    templateId: str
    """The gallery template's id (default: looked up by the gallery app's name)."""


class ProvisioningAppConfigArgs(TypedDict, total=False):
    """The API-driven provisioning app the clients upload to: an existing one, or ``create``."""

    servicePrincipalId: str
    """An existing app's object id (exactly one of servicePrincipalId and displayName)."""
    displayName: str
    """An existing app's display name."""
    jobId: str
    """An existing app's job id: ``API2AAD.<32 hex>.<tenant id>`` or ``API2AD.…``."""
    create: ProvisioningAppCreateArgs
    """Create the app instead (then set nothing else here)."""


class InboundProvisioningAccessArgs(TypedDict, total=False):
    """The stack config's keys, as the component's args."""

    clients: dict[str, ClientArgs]
    """Required. The HR clients, by key (1-40 characters of a-z, 0-9 and -): every resource name derives from it."""
    graphPermissions: list[str]
    """Graph application permissions of every client that sets none (default: upload and read provisioning logs)."""
    protect: bool
    """Pulumi protect for every app, principal, identity and grant (default: true on stacks named prod*)."""
    provisioningApp: ProvisioningAppConfigArgs
    """The provisioning app; its endpoint and logs become outputs."""


class ClientOutput(TypedDict, total=False):
    """What a consumer configures an HR client with."""

    kind: str
    """``servicePrincipal`` or ``managedIdentity``."""
    displayName: str
    """The app registration's (or identity's) display name."""
    clientId: str
    """The client id the HR client signs in with."""
    servicePrincipalObjectId: str
    """The object id of its service principal: the principal of its grants."""
    graphPermissions: list[str]
    """The Graph application permissions granted."""
    credentialType: str
    """``secret``, ``certificate``, ``federated`` or ``managedIdentity``."""
    credentialExpiresAt: str
    """RFC 3339 end date of the newest credential (secrets and certificates)."""
    credentialRenewsAt: str
    """RFC 3339 start of the next renewal period (secrets and generated certificates)."""
    certificateThumbprint: str
    """SHA-1 thumbprint of the newest certificate, upper-case hex."""
    resourceId: str
    """The Azure resource id of a user-assigned identity."""


class ClientCredentialOutput(TypedDict, total=False):
    """A client's secret material."""

    clientSecret: str
    """The newest client secret (secret clients)."""
    certificatePem: str
    """The newest generated certificate, PEM (generated-certificate clients)."""
    privateKeyPem: str
    """The newest generated certificate's private key, PEM (generated-certificate clients)."""


class InboundProvisioningAccess(pulumi.ComponentResource):
    """HR clients' access to Entra's API-driven inbound provisioning: identities, credentials, Graph grants, app."""

    tenant_id: pulumi.Output[str]
    """The Entra tenant id."""
    token_endpoint: pulumi.Output[str]
    """The tenant's OAuth 2.0 token endpoint."""
    graph_scope: pulumi.Output[str]
    """The scope a client-credentials token for Graph asks for."""
    clients: pulumi.Output[dict[str, ClientOutput]]
    """Each client's ids and credential facts, by key."""
    client_credentials: pulumi.Output[dict[str, ClientCredentialOutput]]
    """Secret: each secret client's newest secret, by key."""
    bulk_upload_url: pulumi.Output[str] | None
    """The provisioning job's /bulkUpload endpoint (with provisioningApp)."""
    provisioning_logs_url: pulumi.Output[str] | None
    """The job's provisioning logs (with provisioningApp)."""
    provisioning_app_service_principal_id: pulumi.Output[str] | None
    """The provisioning app's service principal object id (with provisioningApp)."""
    provisioning_job_id: pulumi.Output[str] | None
    """The provisioning job's id (with provisioningApp)."""

    def __init__(self, name: str, args: InboundProvisioningAccessArgs, opts: pulumi.ResourceOptions | None = None,
                 *, now: dt.datetime | None = None, secret_keys: frozenset[str] = frozenset(),
                 misplaced: tuple[str, ...] = ()) -> None:
        now = now or dt.datetime.now(dt.UTC)
        # Everything is validated and read before anything, this component included, is registered.
        # (``secret_keys`` and ``misplaced`` are the stack program's: what its config says beyond the args.)
        config = CheckedArgs.of(args, pulumi.get_stack(), now, secret_keys, misplaced)
        settings = config.settings
        tenant = read_tenant(config.settings_to_look_up())
        super().__init__(TYPE, name, None, opts)

        clients: dict[str, Client] = {}
        for key, client in settings.clients.items():
            role_ids = role_ids_for(tenant.graph, client.graph_permissions)
            # A client's own protect wins: `false` on one client is the first step of removing it from a prod stack.
            protect = settings.protect if client.protect is None else client.protect
            child = pulumi.ResourceOptions(parent=self, aliases=former_parent_aliases())
            if isinstance(client, ManagedIdentityClientSettings):
                existing = (config.deferred_principal(key, tenant) if key in config.deferred
                            else tenant.existing_identities.get(key))
                clients[key] = ManagedIdentityClient(key, ManagedIdentityClientArgs(
                    settings=client, graph=tenant.graph, role_ids=role_ids, protect=protect, existing=existing,
                ), child)
            else:
                clients[key] = ServicePrincipalClient(key, ServicePrincipalClientArgs(
                    settings=client, graph=tenant.graph, role_ids=role_ids, protect=protect, now=now,
                ), child)
            if UPLOAD_OWNED_BY in client.graph_permissions:
                _warn_owned_by(settings, key)

        created = self._create_provisioning_app(settings, tenant, clients)

        self.tenant_id = pulumi.Output.from_input(tenant.tenant_id)
        self.token_endpoint = pulumi.Output.from_input(token_endpoint(tenant.tenant_id))
        self.graph_scope = pulumi.Output.from_input(GRAPH_SCOPE)
        self.clients = cast(pulumi.Output[dict[str, ClientOutput]], pulumi.Output.from_input(
            {key: _client_output(settings, key, client) for key, client in clients.items()}))
        self.client_credentials = cast(pulumi.Output[dict[str, ClientCredentialOutput]], pulumi.Output.secret({
            key: client.secret_material
            for key, client in clients.items()
            if isinstance(client, ServicePrincipalClient) and client.secret_material is not None
        }))
        provisioning = _provisioning_outputs(settings, tenant, created)
        self.provisioning_app_service_principal_id = provisioning.get("provisioningAppServicePrincipalId")
        self.provisioning_job_id = provisioning.get("provisioningJobId")
        self.bulk_upload_url = provisioning.get("bulkUploadUrl")
        self.provisioning_logs_url = provisioning.get("provisioningLogsUrl")
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, pulumi.Output[Any]]:
        """The outputs by their stack output names (those that apply), in the stack's order."""
        outputs: dict[str, pulumi.Output[Any] | None] = {
            "tenantId": self.tenant_id,
            "tokenEndpoint": self.token_endpoint,
            "graphScope": self.graph_scope,
            "clients": self.clients,
            "clientCredentials": self.client_credentials,
            "provisioningAppServicePrincipalId": self.provisioning_app_service_principal_id,
            "provisioningJobId": self.provisioning_job_id,
            "bulkUploadUrl": self.bulk_upload_url,
            "provisioningLogsUrl": self.provisioning_logs_url,
        }
        return {name: value for name, value in outputs.items() if value is not None}

    def _create_provisioning_app(self, settings: Settings, tenant: Tenant,
                                 clients: dict[str, Client]) -> ProvisioningApp | None:
        """The provisioning app, its job and the OwnedBy clients' ownership, with ``provisioningApp.create``."""
        app = settings.provisioning_app
        if app is None or app.create is None or tenant.provisioning_template_id is None:
            return None
        owners = {key: client.service_principal_object_id for key, client in clients.items()
                  if UPLOAD_OWNED_BY in settings.clients[key].graph_permissions}
        # Named with a capital letter, which client keys cannot have: no client's resources can share it.
        return ProvisioningApp("provisioningApp", ProvisioningAppArgs(
            settings=app.create, template_id=tenant.provisioning_template_id, owners=owners,
            protect=settings.protect,
        ), pulumi.ResourceOptions(parent=self, aliases=former_parent_aliases()))


def former_parent_aliases() -> list[pulumi.Input[str] | pulumi.Alias]:
    """The clients and the provisioning app were children of the stack before this component existed.

    The alias keeps their URNs, and so their children's (a child inherits its parent's aliases),
    resolving to the resources an existing stack holds: ``pulumi up`` after the change replaces
    nothing.  In a stack that never ran the old program it matches nothing and costs nothing.
    """
    return [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]


def from_stack_config(name: str = NAMESPACE, now: dt.datetime | None = None) -> InboundProvisioningAccess:
    """The component built from this stack's config (what ``__main__.py`` runs)."""
    config = read_stack_config()
    return InboundProvisioningAccess(name, cast(InboundProvisioningAccessArgs, config.raw), now=now,
                                     secret_keys=config.secret_keys, misplaced=config.misplaced)


# -- args → the stack config's raw shape ---------------------------------------------------------------

# The one arg that may be another resource's output: everything else names resources or must be
# checked before anything is registered, so it is plain.
DEFERRABLE = ("existing", "objectId")
_LEFT_OUT = object()
PLAIN = ("a plain value, known when the component is constructed: this value names resources or is checked "
         "before anything is registered")


class CheckedArgs:
    """Component args as raw stack config, validated; and the existing identities known only later."""

    def __init__(self, raw: dict[str, Any], stack: str, now: dt.datetime, secret_keys: frozenset[str],
                 misplaced: tuple[str, ...], settings: Settings, deferred: Mapping[str, pulumi.Output[Any]]) -> None:
        self.raw = raw
        self.stack = stack
        self.now = now
        self.secret_keys = secret_keys
        self.misplaced = misplaced
        self.settings = settings
        self.deferred = deferred
        """``clients.<key>.existing.objectId`` values that are outputs, by client key."""

    @classmethod
    def of(cls, args: Mapping[str, Any], stack: str, now: dt.datetime,
           secret_keys: frozenset[str] = frozenset(), misplaced: tuple[str, ...] = ()) -> "CheckedArgs":
        """Validate ``args`` as parse_settings validates stack config; raise one SettingsError for every problem."""
        problems: list[Problem] = []
        deferred: dict[str, pulumi.Output[Any]] = {}
        raw = _as_config(args, "", problems, deferred)
        try:
            settings = parse_settings(raw, stack, now, secret_keys, misplaced)
        except SettingsError as error:
            if not problems:
                raise
            raise SettingsError(stack, [*error.problems, *problems]) from None
        if problems:
            raise SettingsError(stack, problems)
        return cls(raw, stack, now, secret_keys, misplaced, settings, deferred)

    def settings_to_look_up(self) -> Settings:
        """The settings without the deferred identities: those are looked up once their object id is known."""
        if not self.deferred:
            return self.settings
        clients = {key: (ManagedIdentityClientSettings(key=key, graph_permissions=client.graph_permissions,
                                                       adopt=client.adopt, protect=client.protect)
                         if key in self.deferred and isinstance(client, ManagedIdentityClientSettings) else client)
                   for key, client in self.settings.clients.items()}
        return Settings(stack=self.settings.stack, clients=clients, protect=self.settings.protect,
                        provisioning_app=self.settings.provisioning_app, warnings=self.settings.warnings)

    def deferred_principal(self, key: str, tenant: Tenant) -> DeferredPrincipal:
        """An identity whose object id is an output: validated and looked up in an ``apply`` once it is known.

        During a preview the value is unknown, so the apply does not run and the grants show with an
        unknown principal.  On ``pulumi up`` the value is known before the grants are created; a bad
        or unknown object id then fails the deploy with the message the stack config would have had
        (what was created before that point stays; nothing depends on it).
        """
        path = f"clients.{key}.existing.objectId"
        known = {p.object_id.casefold(): k for k, p in tenant.existing_identities.items()}

        def check(value: Any) -> FoundPrincipal:
            raw = _with_value(self.raw, ("clients", key, *DEFERRABLE), value)
            parse_settings(raw, self.stack, self.now, self.secret_keys, self.misplaced)  # the config's own messages
            found, reasons = find_service_principals("objectId", [value])
            if value not in found:
                raise SettingsError(self.stack, self.settings.hide_secrets([Problem.of(path, value, reasons[value])]))
            principal = found[value]
            if principal.object_id.casefold() in known:
                raise SettingsError(self.stack, [same_principal_problem(
                    [key, known[principal.object_id.casefold()]], f"object id {principal.object_id}")])
            return principal

        principal = self.deferred[key].apply(check)
        return DeferredPrincipal(object_id=principal.apply(lambda p: p.object_id),
                                 client_id=principal.apply(lambda p: p.client_id),
                                 display_name=principal.apply(lambda p: p.display_name))


def _as_config(value: Any, path: str, problems: list[Problem], deferred: dict[str, pulumi.Output[Any]]) -> Any:
    """A value as stack config holds it: plain dicts and lists, whole numbers as ints (another
    language sends every number as a float); an output where only a known value can be validated
    is a problem, and the one deferrable output is replaced by a stand-in the checks accept."""
    if isinstance(value, pulumi.Output):
        parts = path.split(".")
        if len(parts) == 4 and parts[0] == "clients" and tuple(parts[2:]) == DEFERRABLE:
            deferred[parts[1]] = value
            return _stand_in(parts[1])
        problems.append(Problem(path, "an output (another resource's, or a secret)", PLAIN))
        return _LEFT_OUT
    if isinstance(value, Mapping):
        # A key whose value is refused above is left out: its problem is reported once, not again as missing.
        converted = {str(k): _as_config(v, f"{path}.{k}" if path else str(k), problems, deferred)
                     for k, v in value.items()}
        return {k: v for k, v in converted.items() if v is not _LEFT_OUT}
    if isinstance(value, list | tuple):
        return [_as_config(v, f"{path}[{i}]", problems, deferred) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _stand_in(key: str) -> str:
    # A distinct, valid GUID per client, so the config checks pass (and no two clients look alike)
    # until the real value is known and checked.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{NAMESPACE}/deferred/{key}"))


def _with_value(raw: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copied = dict(raw)
    if len(path) == 1:
        copied[path[0]] = value
    else:
        copied[path[0]] = _with_value(raw[path[0]], path[1:], value)
    return copied


# -- outputs ---------------------------------------------------------------------------------------------


def _warn_owned_by(settings: Settings, key: str) -> None:
    app = settings.provisioning_app
    if app is not None and app.create is not None:
        pulumi.log.warn(
            f"clients.{key} is granted {UPLOAD_OWNED_BY}: the stack makes it an owner of the created "
            "provisioning app's application; owning its service principal is one manual command. See the "
            "README, 'Least privilege: the OwnedBy permission'."
        )
        return
    pulumi.log.warn(
        f"clients.{key} is granted {UPLOAD_OWNED_BY}: it can upload only to provisioning apps "
        "whose service principal it owns. See the README, 'Least privilege: the OwnedBy permission'."
    )


def _client_output(settings: Settings, key: str, client: Client) -> dict[str, Any]:
    config = settings.clients[key]
    shown: dict[str, Any] = {
        "kind": config.kind,
        "displayName": client.display_name,
        "clientId": client.client_id,
        "servicePrincipalObjectId": client.service_principal_object_id,
        "graphPermissions": list(config.graph_permissions),
    }
    if isinstance(client, ManagedIdentityClient):
        shown["credentialType"] = "managedIdentity"
        if client.resource_id is not None:
            shown["resourceId"] = client.resource_id
        return shown
    shown["credentialType"] = client.credential_type
    if client.credential_expires_at is not None:
        shown["credentialExpiresAt"] = client.credential_expires_at
    if client.credential_renews_at is not None:
        shown["credentialRenewsAt"] = client.credential_renews_at
    if client.certificate_thumbprint is not None:
        shown["certificateThumbprint"] = client.certificate_thumbprint
    return shown


def _provisioning_outputs(settings: Settings, tenant: Tenant,
                          created: ProvisioningApp | None) -> dict[str, pulumi.Output[str]]:
    app = settings.provisioning_app
    if created is not None:
        return {
            "provisioningAppServicePrincipalId": created.service_principal_object_id,
            "provisioningJobId": created.job_id,
            "bulkUploadUrl": created.bulk_upload_url,
            "provisioningLogsUrl": created.provisioning_logs_url,
        }
    if app is None or tenant.provisioning_app is None:
        return {}
    return {
        "provisioningAppServicePrincipalId": pulumi.Output.from_input(tenant.provisioning_app.object_id),
        "provisioningJobId": pulumi.Output.from_input(app.job_id),
        "bulkUploadUrl": pulumi.Output.from_input(bulk_upload_url(tenant.provisioning_app.object_id, app.job_id)),
        "provisioningLogsUrl": pulumi.Output.from_input(provisioning_logs_url(app.job_id)),
    }
