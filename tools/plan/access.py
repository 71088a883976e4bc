"""Who can do what once a stack file deploys: Graph permissions, and everyone else who can act as a client.

One list of :class:`Access` entries, read from what the program registered, feeds the plan's access
table and the diff's gains and losses alike:

- each client's **Graph permissions** (its app role assignments);
- each **reader of a client's credential** (``keyVault.readers``: Key Vault Secrets User on the secret
  the stack writes it to), who can sign in as that client;
- each **owner of the provisioning app** the stack creates (the clients granted ``...Upload.OwnedBy``);
- each **trusted principal** (``trustedPrincipals``): ``make audit`` lists its powers as expected, so
  adding one silences findings about it.

Nothing is read from a tenant: principals are named as configured, object ids as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from components.microsoft import DEFAULT_PERMISSIONS, UPLOAD_OWNED_BY
from components.settings.model import ManagedIdentityClientSettings, Settings
from tools.offline.run import ProgramRun
from tools.plan.cells import md, md_code

GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
APPLICATION_OWNER = "azuread:index/applicationOwner:ApplicationOwner"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
# What the access table shows instead of the resources behind it (the diff's "Other changes" leaves them out).
ACCESS_TYPES = frozenset({GRANT, APPLICATION_OWNER, ROLE_ASSIGNMENT})
NARROWER_PAIR = ("SynchronizationData-User.Upload.OwnedBy", "ProvisioningLog.Read.All")


@dataclass(frozen=True)
class Access:
    """One principal's one power. The diff compares ``(who, what)``: a change of either is a loss and a gain."""

    who: str
    """A client key, or a principal's object id."""
    principal: str
    """Who that is, as configured."""
    what: str
    """What it can do."""
    how: str = ""
    """How the stack grants it (the plan's last column)."""
    code: str = ""
    """An id shown as code before ``how`` (a grant's planned role id)."""


def principal_cell(settings: Settings, key: str) -> str:
    """Who a client is, as configured (nothing is read from a tenant)."""
    client = settings.clients[key]
    if isinstance(client, ManagedIdentityClientSettings):
        if client.existing is not None:
            return f"{client.existing.value} (existing; looked up by {client.existing.lookup} on deploy)"
        name = client.user_assigned.name if client.user_assigned is not None else "?"
        return f"{name} (user-assigned identity, created on deploy)"
    return f"{client.display_name} (created on deploy)"


def _client_of(parent_urn: str) -> str:
    """The client key a resource belongs to: its parent component's name."""
    return parent_urn.rsplit("::", 1)[-1]


def access_of(settings: Settings, run: ProgramRun) -> list[Access]:
    """Every access the run grants, client by client, then the trusted principals."""
    role_ids = {tuple(str(r.name).split("-grant-", 1)): str(r.inputs["appRoleId"]) for r in run.of_type(GRANT)}
    app = settings.provisioning_app
    app_name = app.create.display_name if app is not None and app.create is not None else "the provisioning app"
    owners = {str(r.name).split("-owner-", 1)[1] for r in run.of_type(APPLICATION_OWNER)}
    found: list[Access] = []
    for key, shown in run.outputs["clients"].items():
        principal = principal_cell(settings, key)
        found += [Access(key, principal, f"Graph permission {permission}", "(planned role id)",
                         role_ids.get((key, permission), "?")) for permission in shown["graphPermissions"]]
        if key in owners:
            found.append(Access(key, principal, f"owns the provisioning app {app_name}: can change it, and "
                                f"upload to it with {UPLOAD_OWNED_BY}", "application owner"))
    for reader in run.of_type(ROLE_ASSIGNMENT):
        key, scope = _client_of(reader.parent), str(reader.inputs.get("scope", ""))
        vault, _, secret = scope.partition("/providers/Microsoft.KeyVault/vaults/")[2].partition("/secrets/")
        found.append(Access(str(reader.inputs.get("principalId")), "object id (its name is not read offline)",
                            f"reads client {key}'s credential (Key Vault secret {secret} in vault {vault}), so can "
                            f"sign in as {key}", "Key Vault Secrets User on that one secret"))
    found += [Access(principal, "object id (its name is not read offline)",
                     "trusted: make audit lists what it holds as expected, never as a finding",
                     "trustedPrincipals") for principal in settings.trusted_principals]
    return found


def render_access(settings: Settings, run: ProgramRun, out: TextIO) -> None:
    """The plan's access table, and the narrower permissions wherever the tutorial's default is in use."""
    out.write("## Access\n\nWho can do what once this deploys: each client's Graph permissions, and everyone "
              "else who can act as a client or is trusted to.\n\n")
    out.write("| who | principal | access | how |\n|---|---|---|---|\n")
    for entry in access_of(settings, run):
        how = f"{md_code(entry.code)} {md(entry.how)}" if entry.code else md(entry.how)
        out.write(f"| {md(entry.who)} | {md(entry.principal)} | {md(entry.what)} | {how} |\n")
    on_default = [key for key, client in settings.clients.items()
                  if set(client.graph_permissions) == set(DEFAULT_PERMISSIONS)]
    if on_default:
        out.write(f"\n**Least privilege**: {md(', '.join(on_default))} "
                  f"{'holds' if len(on_default) == 1 else 'hold'} the default permissions, "
                  f"{' and '.join(md_code(p) for p in DEFAULT_PERMISSIONS)}: the pair Microsoft's tutorial grants, "
                  f"not the narrowest. The narrower pair is {' with '.join(md_code(p) for p in NARROWER_PAIR)}: "
                  "Graph's bulkUpload reference names the first its least-privileged application permission (it "
                  "uploads only to provisioning apps the client owns; the stack makes the client an owner of an app "
                  "it creates), and the second reads provisioning logs only, where `AuditLog.Read.All` reads every "
                  "audit log. `SynchronizationData-User.Upload` uploads to any provisioning app. Set "
                  "`graphPermissions` to choose (docs/configuration.md, 'Allowed permissions').\n")
