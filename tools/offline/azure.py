"""The offline Azure Resource Manager: what azure-native answers for vaults, Key Vault secrets and role assignments.

Real shapes (``Microsoft.KeyVault/vaults/secrets``, ``Microsoft.Authorization/roleAssignments``):
a secret's id is its vault's id + ``/secrets/<name>``; Resource Manager never returns its value;
``properties.secretUri`` is the versionless URI on the vault's host and ``secretUriWithVersion``
adds the 32-hex version that each create or value update (a PUT) makes.  A role assignment's id
is its scope + ``/providers/Microsoft.Authorization/roleAssignments/<name>``.  The reads
(``getClientConfig``, ``getVault``, ``getSecret``, ``getRoleAssignment``) answer from
:class:`OfflineAzure`: every vault asked for exists, uses Azure RBAC and belongs to the tenant,
unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECRET_TYPE = "azure-native:keyvault:Secret"  # noqa: S105 (a Pulumi resource type)
ROLE_ASSIGNMENT_TYPE = "azure-native:authorization:RoleAssignment"
_VERSIONS = uuid.UUID("0c3e5d7a-1b2f-4a6c-9d8e-7f6a5b4c3d2e")
MOCK_SUBSCRIPTION = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
"""The subscription the offline azure-native provider deploys to."""
AZURE_TOKENS = ("azure-native:authorization:getClientConfig", "azure-native:keyvault:getVault",
                "azure-native:keyvault:getSecret", "azure-native:authorization:getRoleAssignment")


class AzureReadError(Exception):
    """A read Resource Manager refuses (not found, forbidden), as azure-native reports it."""


@dataclass(frozen=True)
class OfflineVault:
    """A vault as Resource Manager describes it (``Microsoft.KeyVault/vaults``)."""

    rbac: bool = True
    """``properties.enableRbacAuthorization``: False for a vault with access policies."""
    tenant_id: str | None = None
    """``properties.tenantId``; None: the tenant deployed to."""
    readable: bool = True
    """False: the caller may not read it (403)."""


@dataclass
class OfflineAzure:
    """What the subscription holds for the reads the program makes before registering anything."""

    tenant_id: str
    subscription_id: str = MOCK_SUBSCRIPTION
    vaults: dict[str, OfflineVault | None] | None = None
    """By vault name (lower case); None for a vault that does not exist.  None for the whole map: every vault
    exists (RBAC, this tenant)."""
    existing: set[str] = field(default_factory=set)
    """Ids (lower case) of secrets and role assignments that exist already."""
    placeholders: bool = False
    """``make plan``: no subscription is read; the client config answers a placeholder."""

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if token == AZURE_TOKENS[0]:
            subscription = "looked-up-on-deploy" if self.placeholders else self.subscription_id
            return {"clientId": "looked-up-on-deploy", "objectId": "looked-up-on-deploy",
                    "subscriptionId": subscription, "tenantId": self.tenant_id}
        if token == AZURE_TOKENS[1]:
            return self._vault(str(args["resourceGroupName"]), str(args["vaultName"]))
        if token == AZURE_TOKENS[2]:
            resource_id = (f"{self._vault_id(str(args['resourceGroupName']), str(args['vaultName']))}"
                           f"/secrets/{args['secretName']}")
            return self._existing(resource_id, {"name": args["secretName"]})
        resource_id = f"{args['scope']}/providers/Microsoft.Authorization/roleAssignments/{args['roleAssignmentName']}"
        return self._existing(resource_id, {"name": args["roleAssignmentName"], "scope": args["scope"]})

    def _vault_id(self, group: str, name: str) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{group}"
                f"/providers/Microsoft.KeyVault/vaults/{name}")

    def _vault(self, group: str, name: str) -> dict[str, Any]:
        vault = OfflineVault() if self.vaults is None else self.vaults.get(name.lower())
        if vault is None:
            raise AzureReadError(f"Resource 'Microsoft.KeyVault/vaults/{name}' under resource group '{group}' "
                                 "was not found (ResourceNotFound)")
        if not vault.readable:
            raise AzureReadError(f"The client does not have authorization to perform action "
                                 f"'Microsoft.KeyVault/vaults/read' over scope '{self._vault_id(group, name)}' "
                                 "(AuthorizationFailed)")
        return {"id": self._vault_id(group, name), "name": name, "location": "westeurope",
                "type": "Microsoft.KeyVault/vaults", "azureApiVersion": "2024-11-01",
                "properties": {"tenantId": vault.tenant_id or self.tenant_id, "enableRbacAuthorization": vault.rbac,
                               "sku": {"family": "A", "name": "standard"},
                               "vaultUri": f"https://{name.lower()}.vault.azure.net/"}}

    def _existing(self, resource_id: str, shown: dict[str, Any]) -> dict[str, Any]:
        if resource_id.casefold() not in self.existing:
            raise AzureReadError(f"'{resource_id}' was not found (404)")
        return {"id": resource_id, **shown}


def key_vault_secret(inputs: Mapping[str, Any], now: dt.datetime, generation: str) -> tuple[str, dict[str, Any]]:
    """A created secret: its id and outputs (a new version)."""
    vault_id = (f"/subscriptions/{MOCK_SUBSCRIPTION}/resourceGroups/{inputs['resourceGroupName']}"
                f"/providers/Microsoft.KeyVault/vaults/{inputs['vaultName']}")
    name = inputs["secretName"]
    outputs = {
        "name": name, "type": "Microsoft.KeyVault/vaults/secrets", "location": "westeurope",
        "tags": dict(inputs.get("tags") or {}), "azureApiVersion": "2024-11-01",
        "resourceGroupName": inputs["resourceGroupName"], "vaultName": inputs["vaultName"], "secretName": name,
    }
    outputs["properties"] = _secret_properties(inputs, {}, now, generation)
    return f"{vault_id}/secrets/{name}", outputs


def updated_secret(outputs: Mapping[str, Any], inputs: Mapping[str, Any], now: dt.datetime,
                   generation: str) -> dict[str, Any]:
    """A secret after a PUT with new properties: the same id and URI, a new version, the new attributes."""
    return {**outputs, "tags": dict(inputs.get("tags") or {}),
            "properties": _secret_properties(inputs, outputs.get("properties") or {}, now, generation)}


def _secret_properties(inputs: Mapping[str, Any], before: Mapping[str, Any], now: dt.datetime,
                       generation: str) -> dict[str, Any]:
    sent = inputs.get("properties") or {}
    name = inputs["secretName"]
    uri = f"https://{inputs['vaultName'].lower()}.vault.azure.net/secrets/{name}"
    version = uuid.uuid5(_VERSIONS, f"{inputs['vaultName']}/{name}/{generation}").hex
    stamp = int(now.timestamp())
    attributes = {"enabled": True, **(sent.get("attributes") or {}),
                  "created": (before.get("attributes") or {}).get("created", stamp), "updated": stamp}
    # No "value": Resource Manager never returns a secret's value.
    return {"attributes": attributes, "contentType": sent.get("contentType"),
            "secretUri": uri, "secretUriWithVersion": f"{uri}/{version}"}


def role_assignment(inputs: Mapping[str, Any], created_by: str, known_principals: set[str],
                    now: dt.datetime) -> tuple[str, dict[str, Any]]:
    """A created role assignment: its id and outputs, with the principal type Resource Manager resolves."""
    name = inputs["roleAssignmentName"]
    principal_type = inputs.get("principalType") or (
        "ServicePrincipal" if inputs["principalId"].lower() in known_principals else "User")
    outputs = {**inputs, "name": name, "type": "Microsoft.Authorization/roleAssignments",
               "principalType": principal_type, "createdBy": created_by, "createdOn": now.isoformat(),
               "azureApiVersion": "2022-04-01"}
    return f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}", outputs


def already_exists(typ: str, resource_id: str, unmanaged: Iterable[Any]) -> str | None:
    """The provider's refusal to create what exists, or None: azure-native GETs the resource first; azuread
    reads the app's key credentials for a certificate's key id (``application_certificate_resource.go``).

    ``unmanaged`` holds what the tenant has beside the stack's state (objects with an ``id``).
    """
    if not any(getattr(entry, "id", "").casefold() == resource_id.casefold() for entry in unmanaged):
        return None
    if typ.startswith("azuread:"):
        return (f"A resource with the ID \"{resource_id}\" already exists - to be managed via Terraform this "
                "resource needs to be imported into the State.")
    return f"cannot create already existing resource '{resource_id}'"


def secret_delete_refused(resource_id: str) -> str:
    """What deleting a Key Vault secret through azure-native meets with the deployer's documented roles: its
    delete is a data-plane soft delete (pulumi-azure-native PR #354), which needs the ``secrets/delete`` data
    action that Key Vault Contributor and a control-plane custom role do not hold."""
    return (f"deleting {resource_id}: 403 Forbidden: the caller is not authorized to perform action on resource "
            "(Microsoft.KeyVault/vaults/secrets/delete, a data action)")
