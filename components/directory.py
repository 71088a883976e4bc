"""Reads from the tenant, done once and before any resource is registered.

The tenant id (from the deployer's sign-in), Microsoft Graph's service principal, existing
managed identities and the provisioning app are looked up with azuread data sources; Key Vault
vaults with azure-native's (``components/key_vault.py``).  Every
lookup happens here, up front, so that a name that matches nothing (or several things) fails the run the same
way bad config does: one error, nothing created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_azuread as azuread

from components.key_vault import vault_problems
from components.microsoft import FIND_TEMPLATE_COMMAND, GALLERY_APP_NAMES, GRAPH_APP_ID
from components.settings.clients import same_principal_problem
from components.settings.model import (
    GUID_RE,
    ExistingIdentity,
    ManagedIdentityClientSettings,
    ProvisioningAppCreateSettings,
    ProvisioningAppSettings,
    ServicePrincipalClientSettings,
    Settings,
)
from components.settings.problems import Problem, SettingsError


@dataclass(frozen=True)
class MicrosoftGraph:
    """Microsoft Graph's service principal in this tenant: the resource of every grant."""

    object_id: str
    """Its object id (the ``resource_object_id`` of every app role assignment)."""
    app_role_ids: Mapping[str, str]
    """App role ids by permission value, as the tenant publishes them."""


@dataclass(frozen=True)
class FoundPrincipal:
    """A service principal that already exists in the tenant."""

    object_id: str
    client_id: str
    display_name: str


@dataclass(frozen=True)
class Tenant:
    """Everything read from the tenant before resources are registered."""

    tenant_id: str
    graph: MicrosoftGraph
    existing_identities: Mapping[str, FoundPrincipal]
    """Existing managed identities, by client key."""
    provisioning_app: FoundPrincipal | None
    provisioning_template_id: str | None = None
    """The gallery template of a provisioning app the stack creates (``provisioningApp.create``)."""
    principal_types: Mapping[str, str] = field(default_factory=dict)
    """``User``, ``Group`` or ``ServicePrincipal`` of every Key Vault reader, by (lower-case) object id."""


def lookup_microsoft_graph() -> MicrosoftGraph:
    """Look up Graph's service principal by its well-known appId (one read per stack)."""
    graph = azuread.get_service_principal(client_id=GRAPH_APP_ID)
    return MicrosoftGraph(object_id=graph.object_id, app_role_ids=dict(graph.app_role_ids))


Lookup = Literal["displayName", "objectId", "clientId"]
# The principals a role assignment may name, as azuread's directory object lookup types them.
READER_TYPES = ("User", "Group", "ServicePrincipal")


def _list_service_principals(lookup: Lookup, values: list[str]) -> dict[str, FoundPrincipal]:
    """One data-source read for many values; found principals keyed by the (case-folded) value."""
    if lookup == "displayName":
        result = azuread.get_service_principals(display_names=values, ignore_missing=True)
    elif lookup == "objectId":
        result = azuread.get_service_principals(object_ids=values, ignore_missing=True)
    else:
        result = azuread.get_service_principals(client_ids=values, ignore_missing=True)
    found: dict[str, FoundPrincipal] = {}
    for sp in result.service_principals or []:
        principal = FoundPrincipal(sp.object_id, sp.client_id, sp.display_name)
        value = {"displayName": sp.display_name, "objectId": sp.object_id, "clientId": sp.client_id}[lookup]
        found[value.casefold()] = principal
    return found


def find_service_principals(lookup: Lookup, values: list[str]) -> tuple[dict[str, FoundPrincipal], dict[str, str]]:
    """Principals found by value, and for each value not found, why.

    The common case is one read for all values.  The azuread provider fails the whole read when
    one display name matches several principals, so on a failure each value is asked alone, to
    say which one it was.
    """
    try:
        found = _list_service_principals(lookup, values)
    except Exception as error:  # a provider error, raised by the invoke
        if len(values) > 1:
            found, reasons = {}, {}
            for value in values:
                one_found, one_reason = find_service_principals(lookup, [value])
                found.update(one_found)
                reasons.update(one_reason)
            return found, reasons
        text = str(error)
        if "more than one" in text.casefold():
            return {}, {values[0]: "several service principals have this display name; "
                                   "use objectId to say which one"}
        return {}, {values[0]: f"the lookup failed: {text.strip().splitlines()[-1][:300]}"}
    by_value = {v: found[v.casefold()] for v in values if v.casefold() in found}
    lookup_words = {"displayName": "display name", "objectId": "object id", "clientId": "client id"}[lookup]
    hint = "; check it, or use objectId" if lookup != "objectId" else "; check it (Enterprise applications > Object ID)"
    reasons = {v: f"no service principal has this {lookup_words} in the tenant{hint}"
               for v in values if v not in by_value}
    return by_value, reasons


def _find_existing_identities(settings: Settings, problems: list[Problem]) -> dict[str, FoundPrincipal]:
    wanted: dict[Lookup, dict[str, ExistingIdentity]] = {}
    for key, client in settings.clients.items():
        if isinstance(client, ManagedIdentityClientSettings) and client.existing is not None:
            wanted.setdefault(client.existing.lookup, {})[key] = client.existing
    found_by_key: dict[str, FoundPrincipal] = {}
    for lookup, by_key in wanted.items():
        found, reasons = find_service_principals(lookup, sorted({e.value for e in by_key.values()}))
        for key, existing in by_key.items():
            if existing.value in found:
                found_by_key[key] = found[existing.value]
            else:
                problems.append(Problem.of(f"clients.{key}.existing.{lookup}", existing.value,
                                           reasons[existing.value]))
    return found_by_key


def _find_key_vault_readers(settings: Settings, problems: list[Problem]) -> dict[str, str]:
    """Each Key Vault reader's type: a role assignment must name it (Resource Manager refuses a wrong one)."""
    found: dict[str, str] = {}
    for key, client in settings.clients.items():
        if not isinstance(client, ServicePrincipalClientSettings) or client.key_vault is None:
            continue
        for index, reader in enumerate(client.key_vault.readers):
            if reader not in found:
                try:
                    found[reader] = azuread.get_directory_object(object_id=reader).type
                except Exception:  # a provider error, raised by the invoke: no such object
                    found[reader] = ""
            if found[reader] not in READER_TYPES:
                why = (f"this object is a {found[reader]}; a reader is a user, group or service principal"
                       if found[reader] else
                       "no user, group or service principal with this object id in this tenant (or the deployer "
                       "may not read it: a user or group reader needs User.Read.All or Group.Read.All)")
                problems.append(Problem.of(f"clients.{key}.keyVault.readers[{index}]", reader, why))
    return found


def _find_provisioning_app(app: ProvisioningAppSettings, problems: list[Problem]) -> FoundPrincipal | None:
    lookup: Lookup = "displayName" if app.display_name is not None else "objectId"
    value = app.display_name or app.service_principal_id or ""
    found, reasons = find_service_principals(lookup, [value])
    if value in found:
        return found[value]
    key = "displayName" if lookup == "displayName" else "servicePrincipalId"
    problems.append(Problem.of(f"provisioningApp.{key}", value, reasons[value]))
    return None


def find_gallery_template(create: ProvisioningAppCreateSettings, problems: list[Problem]) -> str | None:
    """The gallery template's id: as configured, or looked up by the gallery app's display name.

    The data source fails on a name that matches no template; Microsoft has renamed these apps
    before, so each known name is tried, newest first.
    """
    if create.template_id is not None:
        return create.template_id
    names = GALLERY_APP_NAMES[create.target]
    answer = ""
    for name in names:
        try:
            return str(azuread.get_application_template(display_name=name).template_id)
        except Exception as error:  # a provider error, raised by the invoke
            answer = (str(error).strip().splitlines() or [""])[-1][:200]
    tried = " or ".join(f'"{n}"' for n in names)
    problems.append(Problem(
        "provisioningApp.create.templateId", "(not set)",
        f"no gallery template named {tried} was found for target {create.target} (the lookup said: {answer}); "
        f"list the API-driven templates with {FIND_TEMPLATE_COMMAND} "
        "and set provisioningApp.create.templateId to the id of the right one",
    ))
    return None
def _check_adopted_applications(settings: Settings, problems: list[Problem]) -> list[str]:
    """An adopted app and service principal must exist and belong together; warn of owners the import removes.

    A service principal of another app would make the import replace it (its client id forces a
    new one), so a pair that does not match fails the run before anything is imported.
    """
    warnings: list[str] = []
    for key, client in settings.clients.items():
        adopt = client.adopt
        if not isinstance(client, ServicePrincipalClientSettings) or adopt is None or adopt.application is None:
            continue
        path = f"clients.{key}.adopt"
        try:
            app = azuread.get_application(object_id=adopt.application)
        except Exception:  # a provider error, raised by the invoke: the object id matches no app
            problems.append(Problem.of(f"{path}.application", adopt.application,
                                       "no app registration has this object id in the tenant; `make adopt` "
                                       "prints the right one (the object id, not the client id)"))
            continue
        sp_id = adopt.service_principal or ""
        found, reasons = find_service_principals("objectId", [sp_id])
        if sp_id not in found:
            problems.append(Problem.of(f"{path}.servicePrincipal", sp_id, reasons[sp_id]))
            continue
        sp_client = found[sp_id].client_id
        # Compared only when both are real ids (the offline plan has placeholders for what it cannot read).
        if GUID_RE.match(sp_client) and GUID_RE.match(app.client_id) and sp_client.lower() != app.client_id.lower():
            problems.append(Problem.of(f"{path}.servicePrincipal", sp_id,
                                       f"this service principal belongs to client id {sp_client}, but the adopted "
                                       f"app registration is client id {app.client_id}: adopt the app's own"))
        if app.owners:
            warnings.append(f"{path}.application has {len(app.owners)} owner(s); the import removes them (this "
                            "program's apps have no owners: an owner can add credentials). See `make adopt`.")
    return warnings


def read_tenant(settings: Settings) -> Tenant:
    """Read what the program needs from the tenant, or raise one error listing what is missing."""
    problems: list[Problem] = []
    client_config = azuread.get_client_config()
    tenant_id = client_config.tenant_id
    graph = lookup_microsoft_graph()

    for key, client in settings.clients.items():
        for index, value in enumerate(client.graph_permissions):
            if value not in graph.app_role_ids:
                problems.append(Problem.of(f"clients.{key}.graphPermissions[{index}]", value,
                                           "Microsoft Graph's service principal in this tenant has no app role "
                                           "with this value"))

    existing = _find_existing_identities(settings, problems)
    by_principal: dict[str, list[str]] = {}
    for key, principal in existing.items():
        by_principal.setdefault(principal.object_id.casefold(), []).append(key)
    for key, client in settings.clients.items():
        if isinstance(client, ServicePrincipalClientSettings) and client.adopt and client.adopt.service_principal:
            by_principal.setdefault(client.adopt.service_principal.casefold(), []).append(key)
    for object_id, keys in by_principal.items():
        # Looked up differently (one by display name, one by object id) but the same identity.
        if len(keys) > 1:
            problems.append(same_principal_problem(keys, f"object id {object_id}"))
    adoption_warnings = _check_adopted_applications(settings, problems)
    principal_types = _find_key_vault_readers(settings, problems)
    problems += vault_problems(settings, tenant_id)

    provisioning_app = None
    provisioning_template_id = None
    if settings.provisioning_app is not None and settings.provisioning_app.create is not None:
        provisioning_template_id = find_gallery_template(settings.provisioning_app.create, problems)
    elif settings.provisioning_app is not None:
        provisioning_app = _find_provisioning_app(settings.provisioning_app, problems)
        job_tenant = settings.provisioning_app.job_tenant_id
        if job_tenant and job_tenant != tenant_id.lower():
            problems.append(Problem.of("provisioningApp.jobId", settings.provisioning_app.job_id,
                                       f"this job belongs to tenant {job_tenant}, but the deployer is signed in "
                                       f"to tenant {tenant_id}; sign in to the job's tenant or fix the job id"))

    if problems:
        raise SettingsError(settings.stack, settings.hide_secrets(problems))
    for warning in (*settings.warnings, *adoption_warnings):
        pulumi.log.warn(warning)
    return Tenant(tenant_id=tenant_id, graph=graph,
                  existing_identities=existing, provisioning_app=provisioning_app,
                  provisioning_template_id=provisioning_template_id, principal_types=principal_types)
