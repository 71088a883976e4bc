"""The bootstrap program run once per module under the mock engine, with its example stack and secrets."""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
import pytest
import yaml

from bootstrap.facts import NAMESPACE
from tests.conftest import GRAPH_ROLES, NOW, ROOT
from tools.offline.entra import OfflineEntra
from tools.offline.run import ProgramRun, run_offline

BOOTSTRAP = ROOT / "bootstrap"
EXAMPLE = BOOTSTRAP / "Pulumi.example.yaml"
# Environment secrets as `pulumi config set --secret --path` leaves them: the whole key is secret.
SECRETS = {"deploy": {"PULUMI_CONFIG_PASSPHRASE": "deploy-passphrase-value"},
           "production": {"PULUMI_CONFIG_PASSPHRASE": "production-passphrase-value"},
           "rotation": {"PULUMI_CONFIG_PASSPHRASE": "rotation-passphrase-value"}}


def example_config() -> dict[str, Any]:
    """The example stack's keys, without the namespace."""
    config = yaml.safe_load(EXAMPLE.read_text())["config"]
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix):]: value for key, value in config.items() if key.startswith(prefix)}


def cli_texts(config: Mapping[str, Any]) -> dict[str, str]:
    """Config as the Pulumi CLI hands it to a program: full keys, strings as they are, the rest as JSON."""
    return {f"{NAMESPACE}:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()}


def run_bootstrap(config: Mapping[str, Any], secret_keys: Iterable[str] = (), stack: str = "example",
                  tenant_id: str | None = None) -> tuple[OfflineEntra, ProgramRun]:
    """Run bootstrap/__main__.py exactly as `pulumi up` would, in a tenant whose id the config names."""
    entra = OfflineEntra(GRAPH_ROLES, tenant_id=tenant_id or str(config.get("tenantId")), now=NOW)
    texts = cli_texts(config)

    def program() -> None:
        # run_offline marks secret keys in the HR program's namespace; mark the bootstrap's.
        pulumi.runtime.set_all_config(texts, [f"{NAMESPACE}:{key}" for key in secret_keys])
        runpy.run_path(str(BOOTSTRAP / "__main__.py"), run_name="__main__")

    return entra, run_offline(entra, {}, stack, program=program, cli_config=texts)


@pytest.fixture(scope="module")
def example_run() -> tuple[OfflineEntra, ProgramRun]:
    """The example stack with environment secrets: one run for the whole module."""
    return run_bootstrap({**example_config(), "environmentSecrets": SECRETS}, secret_keys=["environmentSecrets"])


def project_file() -> dict[str, Any]:
    project: dict[str, Any] = yaml.safe_load((BOOTSTRAP / "Pulumi.yaml").read_text())
    return project
