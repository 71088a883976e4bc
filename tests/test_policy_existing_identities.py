"""Grants to an existing identity go to the principal the policy config names (policy/existing_identities.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, PolicyResource, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy.existing_identities import ADVISORY_POLICY, EXISTING_CONFIG
from tests.conftest import DUPLICATE_A, LOGIC_APP
from tests.test_policy_allowlist import POLICIES, STACK_POLICY, collector, stack_config
from tests.test_policy_stack_rules import dev_stack, named, stack, with_props
from tools.offline.entra import OfflineEntra

__all__ = ["dev_stack", "stack"]  # the fixtures, shared with the whole-stack tests

[ADVISORY] = [p for p in POLICIES.values() if isinstance(p, StackValidationPolicy) and p.name == ADVISORY_POLICY]
# The run's existing identity: clients.logic.existing.displayName CSV2SCIMBulkUpload.
GRANTS = ("logic-grant-SynchronizationData-User.Upload", "logic-grant-ProvisioningLog.Read.All")


def violations(resources: list[PolicyResource], config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(mandatory whole-stack violations, advisory ones) for ``config`` given to both policies."""
    mandatory: list[str] = []
    advisory: list[str] = []
    assert STACK_POLICY.validate(StackValidationArgs(resources, config), collector(mandatory)) is None
    assert ADVISORY.validate(StackValidationArgs(resources, config), collector(advisory)) is None
    return mandatory, advisory


def configured(entra: OfflineEntra, principals: dict[str, Any] | None) -> dict[str, Any]:
    config = stack_config(entra.graph_object_id)
    del config[EXISTING_CONFIG]
    return config if principals is None else {**config, EXISTING_CONFIG: principals}


def test_only_the_advisory_policy_is_advisory() -> None:
    assert STACK_POLICY.enforcement_level == EnforcementLevel.MANDATORY
    assert ADVISORY.enforcement_level == EnforcementLevel.ADVISORY
    assert {p.enforcement_level for name, p in POLICIES.items() if name != ADVISORY_POLICY} == {
        EnforcementLevel.MANDATORY}


def test_the_run_passes_with_its_existing_identitys_principal(stack: list[PolicyResource],
                                                              entra: OfflineEntra) -> None:
    assert {str(named(stack, g).props["principalObjectId"]) for g in GRANTS} == {LOGIC_APP.object_id}
    # The object id as `az` prints it may differ in case.
    assert violations(stack, configured(entra, {"logic": LOGIC_APP.object_id.upper()})) == ([], [])


def test_a_grant_to_another_principal_is_refused_naming_the_client(stack: list[PolicyResource],
                                                                   entra: OfflineEntra) -> None:
    with_props(named(stack, GRANTS[1]), principalObjectId=DUPLICATE_A.object_id)
    mandatory, advisory = violations(stack, configured(entra, {"logic": LOGIC_APP.object_id}))
    # Refused twice: by this rule, and by the stack-file policy (the principal the file names), run again.
    assert mandatory
    assert all(m.startswith(GRANTS[1]) and LOGIC_APP.object_id in m for m in mandatory), mandatory
    assert any(f"grants to principal {DUPLICATE_A.object_id}, not to client 'logic'" in m for m in mandatory)
    assert advisory == []


def test_a_grant_of_a_client_the_config_does_not_name_is_refused(stack: list[PolicyResource],
                                                                 entra: OfflineEntra) -> None:
    mandatory, _ = violations(stack, configured(entra, {"other": LOGIC_APP.object_id}))
    assert len(mandatory) == len(GRANTS)
    assert all("'logic'" in m and "tools/policy-config.sh" in m for m in mandatory)


@pytest.mark.parametrize("given", ["CSV2SCIMBulkUpload", 7])
def test_a_configured_value_that_is_no_object_id_is_refused(stack: list[PolicyResource], entra: OfflineEntra,
                                                            given: object) -> None:
    mandatory, _ = violations(stack, configured(entra, {"logic": given}))
    assert len(mandatory) == len(GRANTS)
    assert all("not an object id" in m for m in mandatory)


def test_without_the_map_the_grants_are_reported_as_advisory(stack: list[PolicyResource],
                                                             entra: OfflineEntra) -> None:
    with_props(named(stack, GRANTS[1]), principalObjectId=DUPLICATE_A.object_id)
    mandatory, advisory = violations(stack, configured(entra, None))
    assert mandatory == [], "an old pipeline's config leaves the rule to the advisory policy"
    assert sorted(m.split(":", 1)[0] for m in advisory) == sorted(GRANTS)
    assert all("update tools/policy-config.sh" in m for m in advisory)


def test_grants_of_a_user_assigned_identity_are_not_the_maps(stack: list[PolicyResource],
                                                             entra: OfflineEntra) -> None:
    _, advisory = violations(stack, configured(entra, None))
    assert not any(m.startswith("uami-") for m in advisory)


def test_a_principal_unknown_during_preview_leaves_the_check_advisory(stack: list[PolicyResource],
                                                                      entra: OfflineEntra) -> None:
    # Existing identities are looked up at program time, so their object id is known at preview;
    # should one ever be computed, the analyzer says it could not check (advisory), not that it passed.
    grant = named(stack, GRANTS[0])
    grant.props = unknown_checking_proxy({**dict(grant.props), "principalObjectId": UNKNOWN_STRING_VALUE})
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        STACK_POLICY.validate(StackValidationArgs(stack, configured(entra, {"logic": LOGIC_APP.object_id})),
                              collector(found))
    assert found == []
