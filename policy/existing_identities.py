"""Grants to an existing identity go to the principal the stack config names, and no other.

For ``clients.<key>.existing`` the program looks the identity up and grants to the object id it
finds: nothing inside the stack says which principal that should be, so a code change could grant
one of the four roles to any principal.  ``tools/policy-config.sh`` therefore resolves the same
config (``objectId`` as it is; ``displayName`` / ``clientId`` with ``az``, exactly one match) and
hands the pack ``existingIdentityPrincipals``: client key -> expected principal object id.  The
whole-stack policy refuses (mandatory) a grant under such a client to any other principal; when the
map is missing (a pipeline that calls ``policy-config.sh`` without the stack), the advisory policy
:data:`ADVISORY_POLICY` says those grants went unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from components.settings.model import GUID_RE
from policy import resource_types as t
from policy.props import Check

EXISTING_CONFIG = "existingIdentityPrincipals"
EXISTING_SCHEMA: dict[str, object] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Client key -> object id of the existing identity's service principal "
                   "(clients.<key>.existing), as tools/policy-config.sh resolves it.",
}
ADVISORY_POLICY = "existing-identity-principals"
_UPDATE = ("update tools/policy-config.sh and call it with the stack (policy-config.sh OUTPUT.json STACK), "
           "as `make up` / `make preview` do")


def expected_principals(config: Mapping[str, object]) -> dict[str, str] | None:
    """The configured map (keys and ids as given), or None when the config has none."""
    given = config.get(EXISTING_CONFIG)
    if not isinstance(given, Mapping):
        return None
    return {str(k): v if isinstance(v, str) else "" for k, v in given.items()}


def existing_identity_grants(resources: Sequence[PolicyResource], client: PolicyResource) -> list[PolicyResource]:
    """The grants of a managed identity client with no user-assigned identity of its own: an existing one's."""
    if t.children(resources, client, t.USER_ASSIGNED_IDENTITY):
        return []
    return t.children(resources, client, t.APP_ROLE_ASSIGNMENT)


def check_existing_identity_grants(check: Check, resources: Sequence[PolicyResource], client: PolicyResource,
                                   expected: Mapping[str, str]) -> None:
    """Refuse every grant of ``client`` (an existing identity's) to another principal than ``expected`` names."""
    principal = expected.get(client.name)
    for grant in existing_identity_grants(resources, client):
        reading = check.read(grant)
        to = reading.get("principalObjectId")
        if principal is None:
            check.refuse(grant, f"grants to principal {to} for client {client.name!r}, an existing identity the policy "
                          f"config ({EXISTING_CONFIG}) does not name: regenerate the config with "
                          "tools/policy-config.sh for this stack")
        elif not GUID_RE.match(principal):
            check.refuse(grant, f"cannot tell whether client {client.name!r}'s grant goes to its identity: the policy "
                          f"config {EXISTING_CONFIG} gives {principal!r}, not an object id")
        elif to is not None and str(to).casefold() != principal.casefold():
            check.refuse(grant, f"grants to principal {to}, not to client {client.name!r}'s existing identity "
                          f"({principal}, from clients.{client.name}.existing in the stack config)")
        check.done(reading)


def validate_configured(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Advisory: says which existing identities' grants the whole-stack policy could not check."""
    if expected_principals(args.get_config()) is not None:
        return
    for client in args.resources:
        if client.resource_type != t.MANAGED_IDENTITY_CLIENT:
            continue
        for grant in existing_identity_grants(args.resources, client):
            report_violation(f"{grant.name}: not checked against client {client.name!r}'s configured existing "
                             f"identity: the policy config has no {EXISTING_CONFIG}; {_UPDATE}", grant.urn)
