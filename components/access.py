"""``InboundProvisioningAccess``: the whole program as one component, for this stack and for the package.

The stack program (``__main__.py``) builds it from stack config; the component package
(``package/``, ``components/package.py``) hands it another language's args.  Either way the
args are the stack config's shape (the same keys, camelCase), are validated by
:func:`components.settings.parse.parse_settings` with the same messages and key paths, and one
``SettingsError`` is raised before any resource, the component itself included, is registered.

Its children keep the names they had when the stack program registered them at the top level,
and an alias to that old parent: a stack deployed before the component existed plans no
replacement (``tests/test_access.py`` proves it with the deploy simulation).

Its args and outputs are the TypedDicts of ``components/access_args.py``; the args are checked as
stack config by ``components/checked_args.py``.

This module does not use ``from __future__ import annotations``: the package's schema is inferred
from these annotations (and those of ``components/access_args.py``) at run time, and postponed
(string) annotations would hide them.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

import pulumi

from components.access_args import (
    ClientCredentialOutput,
    ClientOutput,
    InboundProvisioningAccessArgs,
    RenewalLedgerOutput,
)
from components.checked_args import CheckedArgs
from components.directory import Tenant, read_tenant
from components.graph_grants import role_ids_for
from components.key_vault import warn_of_existing
from components.managed_identity import ManagedIdentityClient, ManagedIdentityClientArgs
from components.microsoft import (
    GRAPH_SCOPE,
    UPLOAD_OWNED_BY,
    bulk_upload_url,
    provisioning_logs_url,
    token_endpoint,
)
from components.nested_output import nested_output
from components.own_record import own_urn, read_own_record
from components.provisioning_app import ProvisioningApp, ProvisioningAppArgs
from components.service_principal_client import ServicePrincipalClient, ServicePrincipalClientArgs
from components.settings.model import (
    GeneratedCertificateCredential,
    ManagedIdentityClientSettings,
    SecretCredential,
    ServicePrincipalClientSettings,
    Settings,
)
from components.settings.problems import Problem
from components.settings.stack_config import NAMESPACE, read_stack_config
from components.stack_history import (
    LEDGER_OUTPUT,
    RENEWAL_LEDGER_ALLOWED,
    RENEWAL_LEDGER_ARG,
    Renewing,
    known_clients,
    last_outputs,
    own_stack_name,
    renewal_ledgers,
    split_renewal_ledger,
)

TYPE = f"{NAMESPACE}:index:InboundProvisioningAccess"

Client = ServicePrincipalClient | ManagedIdentityClient


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
    renewal_ledger: pulumi.Output[dict[str, RenewalLedgerOutput]]
    """What this deploy handed out, by key (secrets and generated certificates): the next deploy renews from it."""
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
        now = now or current_time()
        # Everything is validated and read before anything, this component included, is registered.
        # (``secret_keys`` and ``misplaced`` are the stack program's: what its config says beyond the args.)
        config_args, given_history, bad_ledger = split_renewal_ledger(args)
        also = () if bad_ledger is None else (Problem(RENEWAL_LEDGER_ARG, bad_ledger, RENEWAL_LEDGER_ALLOWED),)
        config = CheckedArgs.of(config_args, pulumi.get_stack(), now, secret_keys, misplaced, also)
        settings = config.settings
        tenant = read_tenant(config.settings_to_look_up())
        # What the last deploy handed out (components/renewal.py): handed in, or read from this stack's outputs.
        # A client the stack's outputs hold nothing of is renewed from the component's own last registered outputs.
        urn = own_urn(TYPE, name, opts.parent if opts is not None else None)
        ledgers = renewal_ledgers(_renewing(settings), given_history, now,
                                  own=lambda: read_own_record(own_stack_name(), urn, bool(opts and opts.aliases)))
        _warn_of_existing_key_vault_objects(settings, tenant)
        # A created app's principal as the last deploy left it: one Entra no longer has was deleted.
        last = last_outputs() if _creates_app(settings) else None
        deployed_app = last.get("provisioningAppServicePrincipalId") if isinstance(last, Mapping) else None
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
                    principal_types=tenant.principal_types, ledger=ledgers.get(key),
                ), child)
            if UPLOAD_OWNED_BY in client.graph_permissions:
                _warn_owned_by(settings, key)

        created = self._create_provisioning_app(settings, tenant, clients, deployed_app)

        self.tenant_id = pulumi.Output.from_input(tenant.tenant_id)
        self.token_endpoint = pulumi.Output.from_input(token_endpoint(tenant.tenant_id))
        self.graph_scope = pulumi.Output.from_input(GRAPH_SCOPE)
        self.clients = cast(pulumi.Output[dict[str, ClientOutput]], nested_output(
            {key: _client_output(settings, key, client) for key, client in clients.items()}))
        self.client_credentials = cast(pulumi.Output[dict[str, ClientCredentialOutput]], pulumi.Output.secret({
            key: client.secret_material
            for key, client in clients.items()
            if isinstance(client, ServicePrincipalClient) and client.secret_material is not None
        }))
        # A plain map whose only outputs are the key ids, in their own places: an unknown one (a create the update
        # skipped) leaves the rest of the ledger readable (components/ledger.py).
        self.renewal_ledger = cast(pulumi.Output[dict[str, RenewalLedgerOutput]], {
            key: client.renewal for key, client in clients.items()
            if isinstance(client, ServicePrincipalClient) and client.renewal is not None})
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
            LEDGER_OUTPUT: self.renewal_ledger,
            "provisioningAppServicePrincipalId": self.provisioning_app_service_principal_id,
            "provisioningJobId": self.provisioning_job_id,
            "bulkUploadUrl": self.bulk_upload_url,
            "provisioningLogsUrl": self.provisioning_logs_url,
        }
        return {name: value for name, value in outputs.items() if value is not None}

    def _create_provisioning_app(self, settings: Settings, tenant: Tenant, clients: dict[str, Client],
                                 deployed: object) -> ProvisioningApp | None:
        """The provisioning app, its job and the OwnedBy clients' ownership, with ``provisioningApp.create``."""
        app = settings.provisioning_app
        if app is None or app.create is None or tenant.provisioning_template_id is None:
            return None
        owners = {key: client.service_principal_object_id for key, client in clients.items()
                  if UPLOAD_OWNED_BY in settings.clients[key].graph_permissions}
        # Named with a capital letter, which client keys cannot have: no client's resources can share it.
        return ProvisioningApp("provisioningApp", ProvisioningAppArgs(
            settings=app.create, template_id=tenant.provisioning_template_id, owners=owners,
            protect=settings.protect, deployed_service_principal_id=deployed if isinstance(deployed, str) else None,
        ), pulumi.ResourceOptions(parent=self, aliases=former_parent_aliases()))


def current_time() -> dt.datetime:
    """The time a deploy runs at, when no ``now`` is given: renewals are decided from it."""
    return dt.datetime.now(dt.UTC)


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


# -- outputs ---------------------------------------------------------------------------------------------


def _warn_owned_by(settings: Settings, key: str) -> None:
    app = settings.provisioning_app
    if app is not None and app.create is not None:
        pulumi.log.warn(
            f"clients.{key} is granted {UPLOAD_OWNED_BY}: the stack makes it an owner of the created "
            "provisioning app's application; owning its service principal is one manual command. See "
            "docs/provisioning-app.md, 'Least privilege: the OwnedBy permission'."
        )
        return
    pulumi.log.warn(
        f"clients.{key} is granted {UPLOAD_OWNED_BY}: it can upload only to provisioning apps "
        "whose service principal it owns. See docs/provisioning-app.md, 'Least privilege: the OwnedBy permission'."
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
    shown["credentialKeyIds"] = client.credential_key_ids
    shown["credentials"] = client.credentials
    if client.renewal is not None:
        shown["renewal"] = client.renewal
    if client.credential_expires_at is not None:
        shown["credentialExpiresAt"] = client.credential_expires_at
    if client.credential_renews_at is not None:
        shown["credentialRenewsAt"] = client.credential_renews_at
    if client.certificate_thumbprint is not None:
        shown["certificateThumbprint"] = client.certificate_thumbprint
    if client.key_vault_secret_uri is not None:
        shown["keyVaultSecretUri"] = client.key_vault_secret_uri
    return shown


def _warn_of_existing_key_vault_objects(settings: Settings, tenant: Tenant) -> None:
    """A Key Vault secret or reader assignment new to this stack that exists already is said before the create
    that would fail on it (``components/key_vault.py``)."""
    delivered = {key: client.key_vault for key, client in settings.clients.items()
                 if isinstance(client, ServicePrincipalClientSettings) and client.key_vault is not None}
    if not delivered:
        return
    outputs = last_outputs()
    if isinstance(outputs, Mapping) and outputs and not isinstance(outputs.get("clients"), Mapping):
        return  # the last clients output cannot be read (a partial update): nothing to tell new from kept
    last = known_clients(outputs)
    for key, key_vault in delivered.items():
        shown = last.get(key)
        last_uri = shown.get("keyVaultSecretUri") if isinstance(shown, dict) else None
        warn_of_existing(key, key_vault, tenant.principal_types, last_uri if isinstance(last_uri, str) else None)


def _creates_app(settings: Settings) -> bool:
    return settings.provisioning_app is not None and settings.provisioning_app.create is not None


def _renewing(settings: Settings) -> dict[str, Renewing]:
    """The clients whose credential the program renews (and so needs their history), with their schedule."""
    renewing: dict[str, Renewing] = {}
    for key, client in settings.clients.items():
        if not isinstance(client, ServicePrincipalClientSettings):
            continue
        credential = client.credential
        if isinstance(credential, SecretCredential):
            renewing[key] = Renewing("secret", credential.lifetime_days, credential.rotation_days)
        elif isinstance(credential, GeneratedCertificateCredential):
            renewing[key] = Renewing("generatedCertificate", credential.validity_days, credential.rotation_days)
    return renewing


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
