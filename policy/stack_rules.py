"""The whole stack after preview or update: what per-resource checks cannot see.

Pulumi runs a resource policy when a resource is registered, but not for a resource that is
*imported* (``import`` option) or *read* (``StackReference``, ``get``): the engine hands those only to
stack policies, with every resource's final properties (outputs).  So this policy runs the allow-list
and the resource rules again over the whole stack (see :data:`ADOPTABLE` for the one exception), and
adds the rules that need two resources at once:

- a client's grants go to that client's own principal (an existing identity's: the one the policy
  config names, see policy/existing_identities.py); its credentials sit on its own app, and its
  service principal is its own app's;
- the provisioning app's job and secret are on its own service principal, and its owners are clients
  that hold the OwnedBy permission;
- a Key Vault role assignment is scoped to a secret the stack itself writes;
- the stack holds exactly what its stack file declares (policy/stack_file.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from components.microsoft import ALLOWED_PERMISSIONS, UPLOAD_OWNED_BY
from policy import resource_types as t
from policy.access_fields import SECRET_SCOPE
from policy.existing_identities import check_existing_identity_grants, expected_principals
from policy.props import Check
from policy.stack_file import POLICY as STACK_FILE_POLICY
from policy.stack_file import check_exact_match

OWNED_BY_ROLE_ID = ALLOWED_PERMISSIONS[UPLOAD_OWNED_BY].published_role_id
# An adopted (imported) app registration or service principal has, during the preview of its
# adoption, the outputs the portal made: its owners, the portal's delegated User.Read, redirect URIs.
# Pulumi applies the program's inputs right after the import (import-then-update), and the
# per-resource policies judge those inputs.  Over the whole stack these two types are held to the
# allow-list, protect and the rules between resources, not to rules on their outputs.
ADOPTABLE = frozenset({t.APPLICATION, t.SERVICE_PRINCIPAL})
ON_OUTPUTS_OF_ADOPTABLE = frozenset({"allowed-resource-types", "protect-prod", STACK_FILE_POLICY})


def _eq(a: object, b: object) -> bool:
    return str(a).casefold() == str(b).casefold()


def _object_id_of(application_id: object) -> str:
    """``/applications/{objectId}`` -> objectId (the azuread 6.x id form)."""
    return str(application_id).rsplit("/", 1)[-1]


def _check_service_principal_client(check: Check, resources: Sequence[PolicyResource], client: PolicyResource) -> None:
    apps = t.children(resources, client, t.APPLICATION)
    sps = t.children(resources, client, t.SERVICE_PRINCIPAL)
    if len(apps) > 1 or len(sps) > 1:
        check.refuse(client, "an API client has one app registration and one service principal")
    app = check.read(apps[0]) if apps else None
    sp = check.read(sps[0]) if sps else None
    app_object_id = app.get("objectId") if app else None
    if sps and not apps:
        # Nothing else says whose app the service principal is: one of another tenant's multi-tenant
        # apps would receive the client's Graph roles.
        check.refuse(sps[0], "is a client's service principal with no app registration beside it: a client's "
                             "service principal is of its own app, which the program creates with it")
    if sp is not None and app is not None:
        client_id, app_client_id = sp.get("clientId"), app.get("clientId")
        if client_id is not None and app_client_id is not None and not _eq(client_id, app_client_id):
            check.refuse(sps[0], f"is the service principal of app {client_id}, not of its client's app "
                                 f"{app_client_id}")
    for typ in (t.APPLICATION_PASSWORD, t.APPLICATION_CERTIFICATE, t.FEDERATED_CREDENTIAL):
        for credential in t.children(resources, client, typ):
            on = check.read(credential)
            application_id = on.get("applicationId")
            if application_id is not None and app_object_id is not None \
                    and not _eq(_object_id_of(application_id), app_object_id):
                check.refuse(credential, f"is a credential of application {application_id}, not of its client's "
                                         f"app ({app_object_id})")
            check.done(on)
    if sp is None:
        for grant in t.children(resources, client, t.APP_ROLE_ASSIGNMENT):
            holder = check.read(grant)
            check.refuse(grant, f"grants to principal {holder.get('principalObjectId')}, but its client has no "
                                "service principal of its own to hold the grant")
            check.done(holder)
    _check_grants_go_to(check, resources, client, sps[0] if sps else None, "objectId")
    for reading in (app, sp):
        if reading is not None:
            check.done(reading)


def _check_grants_go_to(check: Check, resources: Sequence[PolicyResource], client: PolicyResource,
                        holder: PolicyResource | None, key: str) -> None:
    """Every grant of ``client`` goes to ``holder``'s principal (its output ``key``).

    During preview a new client's principal is unknown: a grant to a principal known already cannot be
    its, and a grant to one computed from another resource must be computed from ``holder``."""
    if holder is None:
        return
    reading = check.read(holder)
    principal = reading.get(key)
    new_principal = reading.is_unknown(key)
    check.done(reading)
    for grant in t.children(resources, client, t.APP_ROLE_ASSIGNMENT):
        on = check.read(grant)
        to = on.get("principalObjectId")
        if to is not None and (new_principal or (principal is not None and not _eq(to, principal))):
            check.refuse(grant, f"grants to principal {to}, not to its client's own principal "
                                f"({principal if principal is not None else 'of ' + holder.name + ', created now'})")
        elif on.is_unknown("principalObjectId"):
            sources = (grant.property_dependencies or {}).get("principalObjectId") or []
            foreign = sorted(d.name for d in sources if d.urn != holder.urn)
            if foreign:
                check.refuse(grant, f"grants to a principal computed from {', '.join(foreign)}, not from its "
                                    f"client's own principal ({holder.name})")
        check.done(on)


def _check_managed_identity_client(check: Check, resources: Sequence[PolicyResource], client: PolicyResource,
                                   expected: Mapping[str, str] | None) -> None:
    identities = t.children(resources, client, t.USER_ASSIGNED_IDENTITY)
    if len(identities) > 1:
        check.refuse(client, "a managed identity client has at most one user-assigned identity")
    if identities:
        _check_grants_go_to(check, resources, client, identities[0], "principalId")
    elif expected is not None:
        # An existing identity is looked up at program time: its grants go to the principal the
        # pipeline resolved from the same config (without that map the advisory policy says so).
        check_existing_identity_grants(check, resources, client, expected)


def _owned_by_principals(check: Check, resources: Sequence[PolicyResource]) -> set[str]:
    principals = set()
    for grant in resources:
        if grant.resource_type != t.APP_ROLE_ASSIGNMENT:
            continue
        reading = check.read(grant)
        if _eq(reading.get("appRoleId"), OWNED_BY_ROLE_ID) and reading.get("principalObjectId") is not None:
            principals.add(str(reading.get("principalObjectId")).casefold())
        check.done(reading)
    return principals


def _owned_by_holders(check: Check, resources: Sequence[PolicyResource]) -> set[str]:
    """URNs of the principals (service principal or user-assigned identity) of clients granted OwnedBy."""
    holders = set()
    for client in resources:
        if client.resource_type not in (t.SERVICE_PRINCIPAL_CLIENT, t.MANAGED_IDENTITY_CLIENT):
            continue
        for grant in t.children(resources, client, t.APP_ROLE_ASSIGNMENT):
            reading = check.read(grant)
            if _eq(reading.get("appRoleId"), OWNED_BY_ROLE_ID):
                holders |= {r.urn for typ in (t.SERVICE_PRINCIPAL, t.USER_ASSIGNED_IDENTITY)
                            for r in t.children(resources, client, typ)}
            check.done(reading)
    return holders


def _check_provisioning_app(check: Check, resources: Sequence[PolicyResource], component: PolicyResource) -> None:
    templates = t.children(resources, component, t.APPLICATION_FROM_TEMPLATE)
    if len(templates) != 1:
        return
    app = check.read(templates[0])
    sp_id, app_id = app.get("servicePrincipalId"), app.get("applicationId")
    for typ in (t.SYNCHRONIZATION_JOB, t.SYNCHRONIZATION_SECRET):
        for resource in t.children(resources, component, typ):
            reading = check.read(resource)
            own = reading.get("servicePrincipalId")
            if own is not None and sp_id is not None and not _eq(own, sp_id):
                check.refuse(resource, f"is on service principal {own}, not on the provisioning app's ({sp_id})")
            check.done(reading)
    owned_by = _owned_by_principals(check, resources)
    holders = _owned_by_holders(check, resources)
    for owner in t.children(resources, component, t.APPLICATION_OWNER):
        reading = check.read(owner)
        application, holder = reading.get("applicationId"), reading.get("ownerObjectId")
        if reading.is_unknown("ownerObjectId"):  # preview: computed from a new principal
            sources = (owner.property_dependencies or {}).get("ownerObjectId") or []
            foreign = sorted(d.name for d in sources if d.urn not in holders)
            if foreign:
                check.refuse(owner, f"makes an owner of a principal computed from {', '.join(foreign)}, which is "
                                    f"not a client granted {UPLOAD_OWNED_BY}: an owner can add credentials to the app")
        if application is not None and app_id is not None and not _eq(application, app_id):
            check.refuse(owner, f"adds an owner to application {application}, not to the provisioning app ({app_id})")
        if holder is not None and str(holder).casefold() not in owned_by:
            check.refuse(owner, f"makes {holder} an owner, which is not a client granted {UPLOAD_OWNED_BY}: "
                                "an owner can add credentials to the app")
        check.done(reading)
    check.done(app)


def _check_key_vault_scopes(check: Check, resources: Sequence[PolicyResource]) -> None:
    secrets = set()
    for secret in (r for r in resources if r.resource_type == t.KEY_VAULT_SECRET):
        reading = check.read(secret)
        vault, name = reading.get("vaultName"), reading.get("secretName")
        if vault is not None and name is not None:
            secrets.add((str(vault).casefold(), str(name).casefold()))
        check.done(reading)
    for assignment in (r for r in resources if r.resource_type == t.ROLE_ASSIGNMENT):
        reading = check.read(assignment)
        match = SECRET_SCOPE.match(str(reading.get("scope") or ""))
        if match is not None and (match["vault"].casefold(), match["secret"].casefold()) not in secrets:
            check.refuse(assignment, f"is scoped to secret {match['secret']} of vault {match['vault']}, which this "
                                     "stack does not write")
        check.done(reading)


def _as_args(resource: PolicyResource, config: dict[str, object]) -> ResourceValidationArgs:
    opts = resource.opts
    if opts.parent is None and resource.parent is not None:  # the rules read a resource's parent from its options
        opts = PolicyResourceOptions(opts.protect, opts.ignore_changes, opts.delete_before_replace, opts.aliases,
                                     opts.custom_timeouts, opts.additional_secret_outputs, resource.parent.urn)
    return ResourceValidationArgs(resource.resource_type, resource.props, resource.urn, resource.name, opts,
                                  resource.provider, config)


def make_validate_stack(resource_policies: Sequence[ResourceValidationPolicy]) -> Callable[
        [StackValidationArgs, ReportViolation], None]:
    """The stack rule, running ``resource_policies`` again on every resource (imports and reads too)."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        check = Check(report_violation)
        config = dict(args.get_config())
        expected = expected_principals(config)
        for resource in args.resources:
            def report(message: str, _urn: str | None = None, urn: str = resource.urn) -> None:
                report_violation(message, urn)

            for policy in resource_policies:
                if resource.resource_type in ADOPTABLE and policy.name not in ON_OUTPUTS_OF_ADOPTABLE:
                    continue
                try:
                    policy.validate(_as_args(resource, config), report)
                except UnknownValueError as error:
                    check.unknown.append(error)
        for resource in args.resources:
            if resource.resource_type == t.SERVICE_PRINCIPAL_CLIENT:
                _check_service_principal_client(check, args.resources, resource)
            elif resource.resource_type == t.MANAGED_IDENTITY_CLIENT:
                _check_managed_identity_client(check, args.resources, resource, expected)
            elif resource.resource_type == t.PROVISIONING_APP:
                _check_provisioning_app(check, args.resources, resource)
        _check_key_vault_scopes(check, args.resources)
        if args.resources:
            check_exact_match(check, args.resources, config, t.stack_of(args.resources[0].urn))
        if check.unknown:
            raise check.unknown[0]

    return validate

