"""Providers: the pack allows only the provider inputs it knows, so a sign-in input it has never seen is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_policy_allowlist import PIPELINE_SIGN_IN, resource_violations

CONFIG = {"access-fields": {"signIn": PIPELINE_SIGN_IN}}


@pytest.mark.parametrize(("package", "props", "said"), [
    ("azuread", {"useAksWorkloadIdentity": "true"}, "useAksWorkloadIdentity"),
    ("azuread", {"clientIdFilePath": "another-client-id.txt"}, "clientIdFilePath"),
    ("azuread", {"oidcRequestUrl": "https://collector.example/token"}, "oidcRequestUrl"),
    ("azuread", {"metadataHost": "login.example"}, "metadataHost"),
    ("azure-native", {"useDefaultAzureCredential": "true"}, "useDefaultAzureCredential"),
    ("azure-native", {"environment": "usgovernment"}, "cloud 'usgovernment'"),
    ("tls", {"proxy": {"url": "http://proxy.example", "password": "p"}}, "proxy"),
], ids=["AKS workload identity", "client id from a file", "OIDC request URL", "metadata host",
        "DefaultAzureCredential", "another cloud", "a proxy with a password"])
def test_a_provider_input_the_pack_does_not_know_is_refused(package: str, props: dict[str, Any], said: str) -> None:
    found = resource_violations(f"pulumi:providers:{package}", {"version": "1.0.0", **props}, name="default_1_0_0",
                                config=CONFIG)
    assert any(said in message for message in found), found


@pytest.mark.parametrize("environment", ["public", "global"])
def test_a_provider_of_the_global_cloud_passes(environment: str) -> None:
    props = {"version": "6.11.0", "useOidc": "true", "environment": environment, "location": "westeurope",
             "disablePulumiPartnerId": "true", **PIPELINE_SIGN_IN}
    assert resource_violations("pulumi:providers:azure-native", props, name="default_6_11_0", config=CONFIG) == []
