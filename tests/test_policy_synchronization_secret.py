"""The synchronization secret holds settings, never credentials (policy/synchronization_secret.py): the keys
the portal adds pass; a credential is refused (over the whole refreshed stack: tests/test_policy_stack_rules.py)."""

from __future__ import annotations

from typing import Any

import pytest

from policy import resource_types as t
from policy.synchronization_secret import CREDENTIAL_KEYS, SETTING_KEYS, carries_credential
from tests.test_policy_allowlist import ACCESS, resource_violations

# Graph v1.0 `synchronizationSecret`, in the order Graph's reference lists its members.
GRAPH_MEMBERS = ["None", "UserName", "Password", "SecretToken", "AppKey", "BaseAddress", "ClientIdentifier",
    "ClientSecret", "SingleSignOnType", "Sandbox", "Url", "Domain", "ConsumerKey", "ConsumerSecret", "TokenKey",
    "TokenExpiration", "Oauth2AccessToken", "Oauth2AccessTokenCreationTime", "Oauth2RefreshToken", "SyncAll",
    "InstanceName", "Oauth2ClientId", "Oauth2ClientSecret", "CompanyId", "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule", "SystemOfRecord", "SandboxName", "EnforceDomain", "SyncNotificationSettings",
    "SkipOutOfScopeDeletions", "Oauth2AuthorizationCode", "Oauth2RedirectUri", "ApplicationTemplateIdentifier",
    "Oauth2TokenExchangeUri", "Oauth2AuthorizationUri", "AuthenticationType", "Server",
    "PerformInboundEntitlementGrants", "HardDeletesEnabled", "SyncAgentCompatibilityKey", "SyncAgentADContainer",
    "ValidateDomain", "TestReferences", "ConnectionString"]
NOTIFICATION = {"key": "SyncNotificationSettings", "value": '{"Enabled":true,"Recipients":"hr-ops@contoso.com"}'}


def secret(*keys: str) -> dict[str, Any]:
    return {"servicePrincipalId": "/servicePrincipals/sp",
            "credentials": [NOTIFICATION, *({"key": k, "value": "v"} for k in keys)]}


def test_every_key_graph_accepts_is_classified_once() -> None:
    assert len(GRAPH_MEMBERS) == 45
    assert set(GRAPH_MEMBERS) == CREDENTIAL_KEYS | SETTING_KEYS
    assert not CREDENTIAL_KEYS & SETTING_KEYS


@pytest.mark.parametrize(("key", "credential"), [
    ("SyncAll", False), ("SyncNotificationSettings", False), ("syncall", False), ("TokenExpiration", False),
    ("SyncAgentCompatibilityKey", False), ("None", False), ("Password", True), ("oauth2accesstoken", True),
    ("ConnectionString", True), ("ScimBearerToken", True), ("ApiKey", True), ("SigningCertificate", True),
    ("FutureScopeSetting", False),
], ids=str)
def test_a_key_is_a_credential_by_graphs_meaning_or_else_by_its_name(key: str, credential: bool) -> None:
    assert carries_credential(key) is credential


def test_the_settings_the_portal_saves_pass() -> None:
    found = resource_violations(t.SYNCHRONIZATION_SECRET, secret("SyncAll", "SkipOutOfScopeDeletions"),
                                parents=(ACCESS, t.PROVISIONING_APP))
    assert found == []


@pytest.mark.parametrize("key", ["SecretToken", "Oauth2ClientSecret", "ScimBearerToken"])
def test_a_credential_key_is_refused_naming_it(key: str) -> None:
    [message] = resource_violations(t.SYNCHRONIZATION_SECRET, secret("SyncAll", key),
                                    parents=(ACCESS, t.PROVISIONING_APP))
    assert key in message
    assert "SyncAll" not in message
