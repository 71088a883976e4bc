"""The guardrails every `pulumi preview` and `pulumi up` of this project runs, as policies.

They hold whatever the program's code says: a change that edits ``components/`` to grant
``Directory.ReadWrite.All`` passes the program's own config checks, but not these.  The
pipeline always loads them from the trusted checkout (the base branch for pull requests,
``main`` for deploys), so a pull request cannot switch them off for its own preview or deploy.

The pack is an allow-list: ``resource_types.py`` lists every type the program registers and refuses
any other; this module holds the rules on Graph roles, lifetimes, owners and protect;
``access_fields.py`` every other field that carries access; ``stack_rules.py`` the whole stack
(imports and reads, which per-resource policies never see, and rules between resources).

This module only defines the policies.  ``__main__.py`` beside it builds the ``PolicyPack``
(which starts a gRPC server and never returns), so tests import this module and call each
policy's ``validate`` directly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from components.microsoft import ALLOWED_PERMISSIONS, GRAPH_APP_ID, MAX_CREDENTIAL_DAYS
from components.settings.model import GUID_RE
from components.settings.parse import is_prod_stack
from policy.access_fields import SIGN_IN_CONFIG, SIGN_IN_PROPERTY, validate_access_fields
from policy.existing_identities import ADVISORY_POLICY, EXISTING_CONFIG, EXISTING_SCHEMA, validate_configured
from policy.props import number
from policy.resource_types import (
    APP_ROLE_ASSIGNMENT,
    APPLICATION,
    APPLICATION_CERTIFICATE,
    APPLICATION_FROM_TEMPLATE,
    APPLICATION_OWNER,
    APPLICATION_PASSWORD,
    SELF_SIGNED_CERT,
    SERVICE_PRINCIPAL,
    SYNCHRONIZATION_JOB,
    USER_ASSIGNED_IDENTITY,
    stack_of,
    validate_allowed_types,
)
from policy.stack_file import POLICY as STACK_FILE_POLICY
from policy.stack_file import STACK_FILE_CONFIG, STACK_FILE_SCHEMA, validate_declared
from policy.stack_rules import make_validate_stack

# The role ids Microsoft publishes for the four permissions this project may grant.  App role
# ids of Graph are the same in every tenant; the program resolves them by value in the tenant,
# and this list is what the result must be.
ALLOWED_ROLE_IDS: Mapping[str, str] = {p.published_role_id: p.value for p in ALLOWED_PERMISSIONS.values()}

# Resources that carry access, and so must survive a `pulumi destroy` or a refactoring slip on prod.
# The program protects the provisioning app, its job and its ownerships on the same stacks.
PROTECTED_TYPES = frozenset({APPLICATION, SERVICE_PRINCIPAL, APP_ROLE_ASSIGNMENT, USER_ASSIGNED_IDENTITY,
                             APPLICATION_FROM_TEMPLATE, SYNCHRONIZATION_JOB, APPLICATION_OWNER})

# Graph's service principal has a different object id in every tenant, so the pipeline looks it up
# (`az ad sp show --id 00000003-0000-0000-c000-000000000000`) and passes it as policy config.
GRAPH_SP_CONFIG = "graphServicePrincipalObjectId"
GRAPH_SP_SCHEMA = PolicyConfigSchema(properties={GRAPH_SP_CONFIG: {
    "type": "string",
    "description": "Object id of Microsoft Graph's service principal in the tenant deployed to.",
}})
# How the pipeline signs in: a provider that signs in otherwise is refused (policy/access_fields.py).
SIGN_IN_SCHEMA = PolicyConfigSchema(properties={SIGN_IN_CONFIG: SIGN_IN_PROPERTY})
# What the stack file declares, and each existing identity's expected principal (policy/stack_file.py,
# policy/existing_identities.py).
STACK_FILE_POLICY_SCHEMA = PolicyConfigSchema(properties={STACK_FILE_CONFIG: STACK_FILE_SCHEMA,
                                                          EXISTING_CONFIG: EXISTING_SCHEMA})
# The whole-stack policy runs every rule again, so it gets all of it.
STACK_SCHEMA = PolicyConfigSchema(properties={**GRAPH_SP_SCHEMA.properties, **SIGN_IN_SCHEMA.properties,
                                              **STACK_FILE_POLICY_SCHEMA.properties})
EXISTING_ONLY_SCHEMA = PolicyConfigSchema(properties={EXISTING_CONFIG: EXISTING_SCHEMA})

# Graph stores end dates in whole seconds and the program fixes them when a credential is created;
# a day of slack covers a run that started before midnight and clock skew between runners.
LIFETIME_SLACK = dt.timedelta(days=1)
_RELATIVE = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")


def _known_str(value: Any) -> str | None:
    """A string input, or None when it is unknown during preview (computed from another resource)."""
    return value if isinstance(value, str) and value else None


def _parse_time(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _relative(value: str) -> dt.timedelta | None:
    """Go's duration syntax as the azuread provider reads ``endDateRelative`` (``17520h``)."""
    match = _RELATIVE.match(value)
    if match is None or not any(match.groupdict().values()):
        return None
    hours, minutes, seconds = (float(match[g] or 0) for g in ("h", "m", "s"))
    return dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)


# --- only the four Graph roles, only on Graph ---------------------------------------------------

def validate_graph_grants(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """App role assignments grant one of the four roles, on Microsoft Graph's service principal only;
    app registrations declare nothing else."""
    if args.resource_type == APP_ROLE_ASSIGNMENT:
        role_id = args.props.get("appRoleId")
        if role_id is not None and str(role_id).lower() not in ALLOWED_ROLE_IDS:
            report_violation(f"{args.name}: app role {role_id} is not one of the allowed Graph permissions "
                             f"({', '.join(sorted(ALLOWED_ROLE_IDS.values()))})", None)
        graph_sp = args.get_config().get(GRAPH_SP_CONFIG)
        resource = args.props.get("resourceObjectId")
        if not isinstance(graph_sp, str) or not GUID_RE.match(graph_sp):
            report_violation(f"{args.name}: cannot tell whether the grant is on Microsoft Graph: the policy "
                             f"config {GRAPH_SP_CONFIG} is missing or not a GUID (got {graph_sp!r}); "
                             "run through `make up` / `make preview` or the pipeline, which set it", None)
        elif resource is not None and str(resource).lower() != graph_sp.lower():
            report_violation(f"{args.name}: grants on resource {resource}; only Microsoft Graph's service "
                             f"principal ({graph_sp}) is allowed", None)
    elif args.resource_type == APPLICATION:
        for access in args.props.get("requiredResourceAccesses") or []:
            app_id = access.get("resourceAppId")
            if app_id is not None and app_id != GRAPH_APP_ID:
                report_violation(f"{args.name}: declares access to resource app {app_id}; only Microsoft "
                                 f"Graph ({GRAPH_APP_ID}) is allowed", None)
            for item in access.get("resourceAccesses") or []:
                role_id = item.get("id")
                if item.get("type") != "Role" or (role_id is not None
                                                  and str(role_id).lower() not in ALLOWED_ROLE_IDS):
                    report_violation(f"{args.name}: declares {item.get('type')} {role_id}; only the allowed "
                                     "Graph application roles may be declared", None)


# --- credential lifetimes ------------------------------------------------------------------------

def _end_date_problem(props: Mapping[str, Any], now: dt.datetime, limit: dt.timedelta | None) -> str | None:
    relative = _known_str(props.get("endDateRelative"))
    if relative is not None:
        span = _relative(relative)
        if span is None:
            return f"endDateRelative {relative!r} does not parse"
        if limit is not None and span > limit:
            return f"endDateRelative {relative} is more than {MAX_CREDENTIAL_DAYS} days"
        if not _known_str(props.get("endDate")):
            return None
        # Both set: the provider refuses the pair today; judge the end date too, whatever it does.
    elif "endDate" not in props:
        return "no end date: every credential must expire (the program always sets endDate)"
    end = _known_str(props.get("endDate"))
    if end is None:
        return None  # empty: the analyzer itself stops on an unknown value (advisory during preview)
    parsed = _parse_time(end)
    if parsed is None:
        return f"endDate {end!r} is not an RFC 3339 time"
    start = _parse_time(_known_str(props.get("startDate")) or "") or now
    if limit is not None and parsed - max(start, now) > limit + LIFETIME_SLACK:
        return f"endDate {end} is more than {MAX_CREDENTIAL_DAYS} days after it is created"
    return None


def make_validate_lifetimes(clock: Callable[[], dt.datetime]) -> Callable[[ResourceValidationArgs,
                                                                           ReportViolation], None]:
    """The lifetime rule, with the clock injectable for tests."""
    limit = dt.timedelta(days=MAX_CREDENTIAL_DAYS)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        now = clock()
        if args.resource_type == APPLICATION_PASSWORD:
            # An end date fixed at creation (ignore_changes) was checked when it was created, and
            # `now` only grows, so "end ≤ now + limit" holds for old and new secrets alike.
            problem = _end_date_problem(args.props, now, limit)
        elif args.resource_type == APPLICATION_CERTIFICATE:
            # A brought certificate's end date is its own notAfter (the program has no limit on it);
            # it must still be stated, so that Graph never invents one.
            problem = _end_date_problem(args.props, now, None)
        elif args.resource_type == SELF_SIGNED_CERT:
            hours = args.props.get("validityPeriodHours")
            spelled = number(hours)
            problem = (f"validityPeriodHours {hours} is more than {MAX_CREDENTIAL_DAYS} days"
                       if spelled is not None and not spelled <= MAX_CREDENTIAL_DAYS * 24 else None)
        else:
            return
        if problem is not None:
            report_violation(f"{args.name}: {problem}", None)

    return validate


# --- no owners on client apps --------------------------------------------------------------------

def validate_no_owners(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """An owner can add a credential to an app (or its service principal) and act with its Graph
    permissions, so client apps are managed only through directory roles and the pipeline."""
    if args.resource_type in {APPLICATION, SERVICE_PRINCIPAL}:
        owners = args.props.get("owners")
        if owners:
            report_violation(f"{args.name}: {args.resource_type.rsplit(':', 1)[-1]} has owners {list(owners)}; "
                             "API clients must have none", None)


# --- protect on prod* stacks ---------------------------------------------------------------------

def validate_prod_protect(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """On stacks named prod*, everything that carries access is protected, whatever the config says."""
    # The same rule as the program's protect default: prod in any case.
    prod = is_prod_stack(stack_of(args.urn))
    if args.resource_type in PROTECTED_TYPES and prod and not args.opts.protect:
        report_violation(f"{args.name}: stack {stack_of(args.urn)!r} is a prod* stack, so "
                         f"{args.resource_type.rsplit(':', 1)[-1]} must have protect set", None)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


STACK_POLICY = "whole-stack"


def policies(clock: Callable[[], dt.datetime] = _utc_now) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every policy of the pack, all mandatory (a violation fails preview and up) but one advisory: it says
    when the config to check existing identities' grants is missing."""
    mandatory = EnforcementLevel.MANDATORY
    per_resource = [
        ResourceValidationPolicy(
            name="allowed-resource-types",
            description="Only the resource types the program registers, each under the component that makes it "
                        "(policy/resource_types.py); anything else is refused.",
            validate=validate_allowed_types, enforcement_level=mandatory),
        ResourceValidationPolicy(
            name="access-fields",
            description="No inline credentials, sign-in flows, takeovers, wider Azure roles, foreign stack "
                        "references or explicit providers on the allowed types.",
            validate=validate_access_fields, enforcement_level=mandatory, config_schema=SIGN_IN_SCHEMA),
        ResourceValidationPolicy(
            name="graph-roles-allowlist",
            description="Only the four inbound-provisioning Graph app roles, and only on Microsoft Graph's "
                        "service principal.",
            validate=validate_graph_grants, enforcement_level=mandatory, config_schema=GRAPH_SP_SCHEMA),
        ResourceValidationPolicy(
            name="credential-lifetime",
            description=f"Client secrets and generated certificates expire within {MAX_CREDENTIAL_DAYS} days; "
                        "every credential has an end date.",
            validate=make_validate_lifetimes(clock), enforcement_level=mandatory),
        ResourceValidationPolicy(
            name="no-client-owners",
            description="API client app registrations and service principals have no owners.",
            validate=validate_no_owners, enforcement_level=mandatory),
        ResourceValidationPolicy(
            name="protect-prod",
            description="On prod* stacks, app registrations, service principals, managed identities and "
                        "grants are protected.",
            validate=validate_prod_protect, enforcement_level=mandatory),
        ResourceValidationPolicy(
            name=STACK_FILE_POLICY,
            description="Only what the stack file declares: its clients and their kinds, permissions, credential "
                        "forms, federated issuers and subjects, Key Vault readers, and the provisioning app.",
            validate=validate_declared, enforcement_level=mandatory, config_schema=STACK_FILE_POLICY_SCHEMA),
    ]
    return [*per_resource, StackValidationPolicy(
        name=STACK_POLICY,
        description="Every resource of the stack, imported and read ones included, passes the rules above; "
                    "grants, credentials and owners belong to the program's own clients and apps; the stack "
                    "holds exactly what its stack file declares.",
        validate=make_validate_stack(per_resource), enforcement_level=mandatory, config_schema=STACK_SCHEMA),
        StackValidationPolicy(
            name=ADVISORY_POLICY,
            description="Advisory: the policy config names each existing identity's principal "
                        "(tools/policy-config.sh with the stack); without it their grants go unchecked.",
            validate=validate_configured, enforcement_level=EnforcementLevel.ADVISORY,
            config_schema=EXISTING_ONLY_SCHEMA)]
