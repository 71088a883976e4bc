"""Which keys of a provisioning job's synchronization secret carry a credential, and so are refused.

The program writes one key, ``SyncNotificationSettings``. Saving the app's provisioning settings in
the portal writes more keys into the same secret (``SyncAll`` among them), the azuread provider's Read
keeps every key Graph returns, and a ``refresh`` brings them into the state: a rule that allowed the
program's key alone stopped every deploy after someone saved the settings once. What the pack must
keep out is a *credential*: a token, password or client secret that a code change could hand the job
for another system (an outbound SCIM app's ``BaseAddress`` + ``SecretToken``), never a setting.

How each key is judged (docs/policy-pack.md says the same):

* Graph types the key as the enumeration ``synchronizationSecret`` (Graph v1.0,
  ``synchronizationSecretKeyStringValuePair``; the same list is vendored in terraform-provider-azuread,
  ``common-types/stable/constant_synchronizationsecret.go``), and refuses any other key. Each of its
  45 members is classified here by what it holds: :data:`CREDENTIAL_KEYS` carry something that
  authenticates to a system (refused); :data:`SETTING_KEYS` are switches, names, addresses and
  schedules (pass). Identifiers that are public halves of a credential (``UserName``,
  ``ClientIdentifier``, ``Oauth2ClientId``) are settings; ``ConsumerKey`` (OAuth 1's consumer key,
  which many APIs use as an API key) and ``ConnectionString`` (which embeds a password) are credentials.
* A key Graph adds later is judged by its name: one that says secret, token, password, key,
  credential, certificate or code is a credential; any other is a setting. An unknown key can only be
  a new member of Graph's enumeration (Graph refuses the rest), and a credential is named as one.
* Keys compare case-insensitively (Graph's own spellings differ: ``Oauth2AccessToken``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CREDENTIAL_KEYS = frozenset({
    "AppKey", "ClientSecret", "ConnectionString", "ConsumerKey", "ConsumerSecret", "Oauth2AccessToken",
    "Oauth2AuthorizationCode", "Oauth2ClientSecret", "Oauth2RefreshToken", "Password", "SecretToken", "TokenKey",
})
"""Members of Graph's ``synchronizationSecret`` that hold something that signs in to a system."""

SETTING_KEYS = frozenset({
    "ApplicationTemplateIdentifier", "AuthenticationType", "BaseAddress", "ClientIdentifier", "CompanyId", "Domain",
    "EnforceDomain", "HardDeletesEnabled", "InstanceName", "None", "Oauth2AccessTokenCreationTime",
    "Oauth2AuthorizationUri", "Oauth2ClientId", "Oauth2RedirectUri", "Oauth2TokenExchangeUri",
    "PerformInboundEntitlementGrants", "Sandbox", "SandboxName", "Server", "SingleSignOnType",
    "SkipOutOfScopeDeletions",
    "SyncAgentADContainer", "SyncAgentCompatibilityKey", "SyncAll", "SyncNotificationSettings",
    "SynchronizationSchedule", "SystemOfRecord", "TestReferences", "TokenExpiration", "UpdateKeyOnSoftDelete", "Url",
    "UserName", "ValidateDomain",
})
"""Members that configure the job (scope, schedule, notifications, names, addresses): no credential.

``SyncAgentCompatibilityKey`` says "key" but names the provisioning agent's compatibility level, which
the portal sets for agent-based (on-premises AD) jobs; refusing it would stop those stacks' deploys."""

_CREDENTIAL_WORDS = re.compile(r"secret|token|passw|pwd|key|credential|cert|code|connectionstring", re.IGNORECASE)
_CREDENTIALS = frozenset(k.casefold() for k in CREDENTIAL_KEYS)
_SETTINGS = frozenset(k.casefold() for k in SETTING_KEYS)


def carries_credential(key: str) -> bool:
    """Whether a synchronization secret key holds a credential (see the module's docstring)."""
    folded = key.casefold()
    if folded in _CREDENTIALS:
        return True
    if folded in _SETTINGS:
        return False
    return _CREDENTIAL_WORDS.search(key) is not None


def credential_keys(keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` that carry a credential, sorted."""
    return sorted({key for key in keys if carries_credential(key)})
