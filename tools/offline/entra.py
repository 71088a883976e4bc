"""The offline Entra: a Pulumi mock that answers registrations and data-source calls as Entra and the providers do.

Used by the tests, by ``make plan`` and by the benchmarks through ``tools/offline/run.py``.
Nothing here talks to a tenant: ``OfflineEntra`` gives distinct object ids, camelCase outputs
and Graph's app roles, and fails a data source the way the provider does (``ProviderError``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from cryptography.hazmat.primitives import serialization

from components.microsoft import ALLOWED_PERMISSIONS, GALLERY_APP_NAMES, GRAPH_APP_ID
from components.renewal import rfc3339
from tools.offline.azure import (
    AZURE_TOKENS,
    ROLE_ASSIGNMENT_TYPE,
    SECRET_TYPE,
    AzureReadError,
    OfflineAzure,
    key_vault_secret,
    role_assignment,
    updated_secret,
)
from tools.offline.values import go_time_text, graph_date, mock_private_key, self_signed_pem

MOCK_NAMESPACE = uuid.UUID("6f1c2a4e-8d3b-4e5f-9a7c-1b2d3e4f5a6b")

GRAPH_SP_TOKEN = "azuread:index/getServicePrincipal:getServicePrincipal"  # noqa: S105 (a Pulumi function token)
LIST_SPS_TOKEN = "azuread:index/getServicePrincipals:getServicePrincipals"  # noqa: S105
CLIENT_CONFIG_TOKEN = "azuread:index/getClientConfig:getClientConfig"  # noqa: S105
STACK_REFERENCE = "pulumi:pulumi:StackReference"
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
READ_STACK_RESOURCE_OUTPUTS = "pulumi:pulumi:readStackResourceOutputs"
APP_TEMPLATE_TOKEN = "azuread:index/getApplicationTemplate:getApplicationTemplate"  # noqa: S105
APPLICATION_TOKEN = "azuread:index/getApplication:getApplication"  # noqa: S105
DIRECTORY_OBJECT_TOKEN = "azuread:index/getDirectoryObject:getDirectoryObject"  # noqa: S105


def default_gallery() -> dict[str, str]:
    """The gallery's API-driven apps under their current names, with stand-in template ids."""
    return {names[0]: mock_guid("application-template", names[0]) for names in GALLERY_APP_NAMES.values()}


def mock_guid(*parts: str) -> str:
    """A stable, distinct GUID for a name: what Entra would assign, repeatable in tests."""
    return str(uuid.uuid5(MOCK_NAMESPACE, "/".join(parts)))


def published_graph_roles() -> list[dict[str, Any]]:
    """Graph app roles as Microsoft publishes them, for the permissions this program allows."""
    return [
        {"id": p.published_role_id, "value": p.value, "displayName": p.purpose,
         "allowedMemberTypes": ["Application"], "isEnabled": True}
        for p in ALLOWED_PERMISSIONS.values()
    ]


@dataclass(frozen=True)
class DirectoryEntry:
    """A service principal that exists in the stand-in tenant before the program runs."""

    display_name: str
    object_id: str
    client_id: str


@dataclass(frozen=True)
class ExistingApplication:
    """An app registration that exists in the stand-in tenant before the program runs (made in the portal)."""

    display_name: str
    object_id: str
    client_id: str
    owners: tuple[str, ...] = ()
    """Object ids of its owners (the portal makes the person who registered it one)."""


class ProviderError(Exception):
    """A data source's own failure, which the engine returns to the program as a failed invoke."""


class OfflineEntra(pulumi.runtime.Mocks):
    """Answers resource registrations and data-source calls the way Entra and the providers do."""

    def __init__(self, graph_app_roles: Iterable[Mapping[str, Any]], *,
                 tenant_id: str = "72f988bf-0000-4000-8000-00000000e1d0",
                 directory: Iterable[DirectoryEntry] = (), resolve_any_name: bool = False,
                 now: dt.datetime | None = None, gallery: Mapping[str, str] | None = None,
                 applications: Iterable[ExistingApplication] = (),
                 people: Mapping[str, str] | None = None,
                 stack_outputs: Mapping[str, Any] | None = None) -> None:
        self.graph_app_roles = [dict(r) for r in graph_app_roles]
        self.tenant_id = tenant_id
        self.graph_object_id = mock_guid("graph-service-principal", tenant_id)
        self.deployer_object_id = mock_guid("deployer", tenant_id)
        self.directory = list(directory)
        self.resolve_any_name = resolve_any_name
        """Plan mode: any lookup finds one principal (its ids are placeholders, never shown as real)."""
        self.now = now or dt.datetime.now(dt.UTC)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.generation = ""
        """Salt for ids of what is created: a deploy simulation sets it per run, so a replaced
        resource gets new ids (and a new secret value), as Entra would give it."""
        self.gallery = dict(default_gallery() if gallery is None else gallery)
        """Application templates by display name (the gallery is the same in every tenant)."""
        self.applications = {a.object_id: a for a in applications}
        """App registrations that exist already, by object id: what an ``import`` of one reads."""
        self.people = {k.lower(): v for k, v in (people or {}).items()}
        """Users and groups that exist (``User`` or ``Group``), by object id."""
        self.stack_outputs = dict(stack_outputs or {})
        """The last deploy's outputs: what a read of the running stack's outputs gets ({}: never deployed)."""
        self.secret_output_names: frozenset[str] = frozenset()
        """Which of them are secret (``secretOutputNames``)."""
        self.stack_resources: dict[str, Any] = {}
        """The last checkpoint's resources' outputs by URN (``readStackResourceOutputs``; {}: never deployed)."""
        self.created_service_principals: set[str] = set()
        """Object ids of the service principals the program's resources made (a gallery app's)."""
        self.replication_misses = 0
        """Reads of a newly made service principal that miss before Entra answers for it (replication)."""
        self.reads_missed: dict[str, int] = {}
        self.azure = OfflineAzure(tenant_id, placeholders=resolve_any_name)
        """The subscription's side: vaults, and the secrets and role assignments that exist."""

    # -- data sources ---------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.calls.append((args.token, dict(args.args)))
        if args.token == CLIENT_CONFIG_TOKEN:
            return {"tenantId": self.tenant_id, "clientId": mock_guid("deployer-app", self.tenant_id),
                    "objectId": self.deployer_object_id}
        if args.token == GRAPH_SP_TOKEN:
            return self._service_principal(args.args)
        if args.token == LIST_SPS_TOKEN:
            return self._list_service_principals(args.args)
        if args.token == APP_TEMPLATE_TOKEN:
            return self._application_template(args.args)
        if args.token == APPLICATION_TOKEN:
            return self._application(args.args)
        if args.token == DIRECTORY_OBJECT_TOKEN:
            return self._directory_object(str(args.args["objectId"]))
        if args.token == READ_STACK_OUTPUTS:
            return self._stack_outputs(str(args.args["name"]))
        if args.token == READ_STACK_RESOURCE_OUTPUTS:
            # builtins.go: {"stackName"} in; {"name", "outputs": {<urn>: {"type", "outputs"}}} out (backend.go).
            name = str(args.args["stackName"])
            mine = name.rsplit("/", maxsplit=1)[-1] == pulumi.get_stack()
            return {"name": name, "outputs": self.stack_resources if mine else {}}
        if args.token in AZURE_TOKENS:
            try:
                return self.azure.call(args.token, args.args)
            except AzureReadError as error:
                raise ProviderError(str(error)) from None
        raise NotImplementedError(f"the offline tenant does not answer {args.token}")

    def _directory_object(self, object_id: str) -> dict[str, Any]:
        # As the provider does: the shortened OData type, or an error for an unknown object id.
        known = {e.object_id.lower(): "ServicePrincipal" for e in self.directory} | self.people
        found = known.get(object_id.lower()) or ("ServicePrincipal" if self.resolve_any_name else None)
        if found is None:
            raise ProviderError(f"retrieving directory object with object ID {object_id!r}: not found")
        return {"id": object_id, "objectId": object_id, "type": found}

    def _application_template(self, query: Mapping[str, Any]) -> dict[str, Any]:
        # As the provider does: exactly one of displayName (Graph's `displayName eq`, one match or
        # an error) and templateId.
        by_id = {template_id: name for name, template_id in self.gallery.items()}
        if query.get("templateId"):
            template_id = str(query["templateId"])
            if template_id not in by_id:
                raise ProviderError(f"Application Template with ID {template_id!r} was not found")
            name = by_id[template_id]
        else:
            name = str(query.get("displayName", ""))
            found = [n for n in self.gallery if n.casefold() == name.casefold()]
            if not found:
                raise ProviderError(f"Application template not found: no application templates found matching "
                                    f"filter: \"displayName eq '{name}'\"")
            name, template_id = found[0], self.gallery[found[0]]
        return {"id": template_id, "templateId": template_id, "displayName": name, "categories": ["hr"],
                "homepageUrl": "", "logoUrl": "", "publisher": "Microsoft Corporation",
                "supportedProvisioningTypes": ["sync"], "supportedSingleSignOnModes": []}

    @staticmethod
    def _placeholder(attribute: str, value: str) -> DirectoryEntry:
        # Plan mode: the principal has the attribute it was looked up by; the rest is unknown.
        unknown = f"looked-up-on-deploy:{value}"
        return DirectoryEntry(**{"display_name": unknown, "object_id": unknown, "client_id": unknown,
                                 attribute: value})

    def _list_service_principals(self, query: Mapping[str, Any]) -> dict[str, Any]:
        # As the azuread provider does: one Graph query per value; with ignoreMissing a value
        # that matches nothing is skipped, and a display name matching several fails the read.
        field_by_arg = {"displayNames": "display_name", "objectIds": "object_id", "clientIds": "client_id"}
        matches: list[DirectoryEntry] = []
        for arg, attribute in field_by_arg.items():
            for value in query.get(arg) or []:
                found = [e for e in self.directory if getattr(e, attribute).casefold() == str(value).casefold()]
                if arg == "objectIds" and value in self.created_service_principals:
                    found = self._replicated(str(value))
                if not found and self.resolve_any_name:
                    found = [self._placeholder(attribute, str(value))]
                if len(found) > 1:
                    raise ProviderError(f"Finding service principals with display name: {value!r}: "
                                        "more than one service principal returned with this display name")
                matches += found
        return {"id": "service-principals", "ignoreMissing": True,
                "displayNames": [m.display_name for m in matches],
                "clientIds": [m.client_id for m in matches], "objectIds": [m.object_id for m in matches],
                "servicePrincipals": [self._sp_summary(m) for m in matches]}

    def _replicated(self, object_id: str) -> list[DirectoryEntry]:
        """A service principal the program made: absent for the first ``replication_misses`` reads."""
        missed = self.reads_missed.get(object_id, 0)
        if missed < self.replication_misses:
            self.reads_missed[object_id] = missed + 1
            return []
        return [DirectoryEntry(f"service principal {object_id}", object_id, mock_guid("client-id", object_id))]

    def _application(self, query: Mapping[str, Any]) -> dict[str, Any]:
        # getApplication by object id, as the program asks for an adopted app.
        object_id = str(query.get("objectId", ""))
        app = self.applications.get(object_id)
        if app is None and self.resolve_any_name:
            app = ExistingApplication(f"looked-up-on-deploy:{object_id}", object_id, f"looked-up-on-deploy:{object_id}")
        if app is None:
            raise ProviderError(f"Application with object ID {object_id!r} was not found")
        return {"id": f"/applications/{app.object_id}", "objectId": app.object_id, "clientId": app.client_id,
                "displayName": app.display_name, "owners": list(app.owners), "signInAudience": "AzureADMyOrg"}

    def _service_principal(self, query: Mapping[str, Any]) -> dict[str, Any]:
        if query.get("clientId") != GRAPH_APP_ID:
            raise NotImplementedError("the program looks up only Graph's service principal one at a time")
        roles = [r for r in self.graph_app_roles
                 if "Application" in r.get("allowedMemberTypes", []) and r.get("isEnabled", True)]
        return {
            "id": self.graph_object_id, "objectId": self.graph_object_id, "clientId": GRAPH_APP_ID,
            "displayName": "Microsoft Graph", "type": "Application",
            "appRoleIds": {r["value"]: r["id"] for r in roles},
            "appRoles": [{"id": r["id"], "value": r["value"], "displayName": r["displayName"],
                          "description": r["displayName"], "enabled": True,
                          "allowedMemberTypes": r["allowedMemberTypes"]} for r in roles],
        }

    @staticmethod
    def _sp_summary(entry: DirectoryEntry) -> dict[str, Any]:
        return {"accountEnabled": True, "appRoleAssignmentRequired": False, "applicationTenantId": "",
                "clientId": entry.client_id, "displayName": entry.display_name, "objectId": entry.object_id,
                "preferredSingleSignOnMode": "", "samlMetadataUrl": "", "servicePrincipalNames": [],
                "signInAudience": "AzureADMyOrg", "tags": [], "type": "ManagedIdentity"}

    def _stack_outputs(self, name: str) -> dict[str, Any]:
        # The engine's built-in provider (pkg/resource/deploy/builtins.go): a stack's last outputs, as stored
        # (an unknown one as the engine's unknown sentinel); the mock knows only the running stack's.
        outputs = self.stack_outputs if name.rsplit("/", maxsplit=1)[-1] == pulumi.get_stack() else {}
        return {"name": name, "outputs": outputs,
                "secretOutputNames": sorted(n for n in self.secret_output_names if n in outputs)}

    # -- resources ------------------------------------------------------------------------

    def updated(self, typ: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        """A resource's outputs after an in-place update with ``inputs`` (a deploy simulation's update)."""
        if typ == SECRET_TYPE:
            return updated_secret(outputs, inputs, self.now, self.generation)
        return {**outputs, **inputs}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            # A read of a stack's outputs (the renewal ledger); the mock knows only the running stack's.
            name = str(args.resource_id)
            return name, self._stack_outputs(name)
        if args.resource_id:
            return self._imported(args)
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        salt = (self.generation,) if self.generation else ()
        object_id = mock_guid(typ, name, *salt)
        if typ == "azuread:index/application:Application":
            state.update(objectId=object_id, clientId=mock_guid("client-id", name))
            return f"/applications/{object_id}", state
        if typ == "azuread:index/servicePrincipal:ServicePrincipal":
            state.update(objectId=object_id, type="Application")
            return object_id, state
        if typ == "azuread:index/applicationPassword:ApplicationPassword":
            key_id = mock_guid("key", name, *salt)
            state["endDate"] = graph_date(state.get("endDate") or rfc3339(self.now + dt.timedelta(days=730)))
            state.update(keyId=key_id, value=f"mock-secret-value-{key_id}", startDate=graph_date(rfc3339(self.now)))
            return f"{state['applicationId']}/password/{key_id}", state
        if typ == "azuread:index/applicationCertificate:ApplicationCertificate":
            key_id = str(state.get("keyId") or mock_guid("key", name, *salt))
            state.update(keyId=key_id, startDate=graph_date(rfc3339(self.now)))
            if state.get("endDate"):
                state["endDate"] = graph_date(state["endDate"])
            return f"{state['applicationId']}/certificate/{key_id}", state
        if typ == "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential":
            state["credentialId"] = object_id
            return f"{state['applicationId']}/federatedIdentityCredential/{object_id}", state
        if typ == "azuread:index/appRoleAssignment:AppRoleAssignment":
            state.update(principalType="ServicePrincipal", resourceDisplayName="Microsoft Graph")
            return f"/servicePrincipals/{state['resourceObjectId']}/appRoleAssignedTo/{object_id}", state
        if typ == "azure-native:managedidentity:UserAssignedIdentity":
            arm_id = (f"/subscriptions/{mock_guid('subscription')}/resourceGroups/{state['resourceGroupName']}"
                      f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{state['resourceName']}")
            state.update(name=state["resourceName"], principalId=object_id, clientId=mock_guid("client-id", name),
                         tenantId=self.tenant_id, type="Microsoft.ManagedIdentity/userAssignedIdentities")
            return arm_id, state
        if typ == SECRET_TYPE:
            return key_vault_secret(state, self.now, self.generation)
        if typ == ROLE_ASSIGNMENT_TYPE:
            known = {entry.object_id.lower() for entry in self.directory}
            return role_assignment(state, self.deployer_object_id, known, self.now)
        if typ == "tls:index/privateKey:PrivateKey":
            key = mock_private_key()
            # pulumi-tls: `privateKeyPem` of an RSA key is PKCS#1 ("RSA PRIVATE KEY"); PKCS#8 is
            # the separate `privateKeyPemPkcs8` (terraform-provider-tls, private_key.go).
            state.update(
                privateKeyPem=key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.TraditionalOpenSSL,
                                                serialization.NoEncryption()).decode(),
                privateKeyPemPkcs8=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode(),
                publicKeyPem=key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
            )
            return object_id, state
        if typ == "tls:index/selfSignedCert:SelfSignedCert":
            end = self.now + dt.timedelta(hours=int(state["validityPeriodHours"]))
            common_name = state["subject"]["commonName"]
            state.update(certPem=self_signed_pem(common_name, self.now, end),
                         validityStartTime=go_time_text(self.now), validityEndTime=go_time_text(end),
                         earlyRenewalHours=state.get("earlyRenewalHours", 0), readyForRenewal=False)
            return object_id, state
        provisioning = self._provisioning_resource(typ, name, state)
        if provisioning is not None:
            return provisioning
        return object_id, state

    def _provisioning_resource(self, typ: str, name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The provisioning app's resources, with the ids and outputs the azuread provider gives them."""
        if typ == "azuread:index/applicationFromTemplate:ApplicationFromTemplate":
            salt = (self.generation,) if self.generation else ()
            app, sp = mock_guid(typ, name, "application", *salt), mock_guid(typ, name, "service-principal", *salt)
            self.created_service_principals.add(sp)
            state.update(applicationId=f"/applications/{app}", applicationObjectId=app,
                         servicePrincipalId=f"/servicePrincipals/{sp}", servicePrincipalObjectId=sp)
            return f"/applicationTemplates/{state['templateId']}/instantiate/{app}/{sp}", state
        if typ == "azuread:index/synchronizationSecret:SynchronizationSecret":
            # One set of secrets per service principal: the id is the principal's.
            return str(state["servicePrincipalId"]), state
        if typ == "azuread:index/synchronizationJob:SynchronizationJob":
            job = f"{state['templateId']}.{uuid.UUID(mock_guid(typ, name)).hex}.{self.tenant_id}"
            state.setdefault("enabled", True)
            state["schedules"] = [{"expiration": "", "interval": "PT40M",
                                   "state": "Active" if state["enabled"] else "Disabled"}]
            return f"{state['servicePrincipalId']}/synchronization/jobs/{job}", state
        if typ == "azuread:index/applicationOwner:ApplicationOwner":
            return f"{state['applicationId']}/owners/{state['ownerObjectId']}", state
        return None


    def _imported(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        # As the provider's importer does: the id is the import id, the state is the object's own
        # (here: the program's inputs, plus what Entra assigned when the object was made by hand).
        import_id = str(args.resource_id)
        state = dict(args.inputs)
        object_id = import_id.rsplit("/", 1)[-1]
        if args.typ == "azuread:index/application:Application":
            existing = self.applications.get(object_id)
            state.update(objectId=object_id,
                         clientId=existing.client_id if existing else mock_guid("client-id", object_id))
        elif args.typ == "azuread:index/servicePrincipal:ServicePrincipal":
            state.update(objectId=object_id, type="Application")
        elif args.typ == "azuread:index/appRoleAssignment:AppRoleAssignment":
            state.update(principalType="ServicePrincipal", resourceDisplayName="Microsoft Graph")
        return import_id, state
