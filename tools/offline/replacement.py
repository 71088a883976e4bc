"""Which input changes make the engine replace a resource, by type: what the deploy simulation compares.

Sources: terraform-provider-azuread v3 (`ForceNew` in each resource's schema; ../shared/PROVIDER-FACTS.md),
terraform-provider-tls (`RequiresReplace` on every certificate and key attribute), azure-native (the ARM
resource's name, group and location).
"""

from __future__ import annotations

REPLACED_BY: dict[str, frozenset[str]] = {
    "azuread:index/applicationPassword:ApplicationPassword": frozenset(
        {"applicationId", "displayName", "startDate", "endDate", "endDateRelative", "rotateWhenChanged"}),
    "azuread:index/applicationCertificate:ApplicationCertificate": frozenset(
        {"applicationId", "type", "encoding", "value", "startDate", "endDate", "endDateRelative", "keyId"}),
    "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential": frozenset(
        {"applicationId", "displayName"}),
    "azuread:index/appRoleAssignment:AppRoleAssignment": frozenset(
        {"appRoleId", "principalObjectId", "resourceObjectId"}),
    "azuread:index/servicePrincipal:ServicePrincipal": frozenset({"clientId"}),
    "azuread:index/synchronizationJob:SynchronizationJob": frozenset({"servicePrincipalId", "templateId"}),
    "azuread:index/applicationFromTemplate:ApplicationFromTemplate": frozenset({"templateId"}),
    "tls:index/privateKey:PrivateKey": frozenset({"algorithm", "rsaBits", "ecdsaCurve"}),
    "tls:index/selfSignedCert:SelfSignedCert": frozenset(
        {"privateKeyPem", "subject", "validityPeriodHours", "allowedUses", "dnsNames", "ipAddresses", "uris",
         "isCaCertificate", "setSubjectKeyId", "setAuthorityKeyId"}),
    "azure-native:managedidentity:UserAssignedIdentity": frozenset(
        {"resourceName", "resourceGroupName", "location"}),
    # A secret's path; its properties (value, content type, attributes) are a PUT to the same
    # secret, which Key Vault keeps as a new version.
    "azure-native:keyvault:Secret": frozenset({"resourceGroupName", "vaultName", "secretName"}),
    # Resource Manager refuses to change an assignment's principal or role (RoleAssignmentUpdateNotPermitted).
    "azure-native:authorization:RoleAssignment": frozenset(
        {"scope", "roleAssignmentName", "principalId", "roleDefinitionId", "principalType"}),
}

CREDENTIAL_TYPES = frozenset({
    "azuread:index/applicationPassword:ApplicationPassword",
    "azuread:index/applicationCertificate:ApplicationCertificate",
})
