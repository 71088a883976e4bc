"""tools/stack/stacks.py: the workflows' stack matrix, discovered from Pulumi.<stack>.yaml files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.stack import stacks


def test_this_repositorys_stacks() -> None:
    found = stacks.discover(ROOT)
    assert [e["stack"] for e in found["all"]] == ["dev", "prod"]
    assert [e["stack"] for e in found["prod"]] == ["prod"]
    assert [e["stack"] for e in found["nonprod"]] == ["dev"]
    by_stack = {e["stack"]: e for e in found["all"]}
    assert by_stack["dev"]["secrets"] is True, "dev has a client secret in its outputs"
    assert by_stack["dev"]["previewEnvironment"] == "preview-secrets"
    assert by_stack["prod"]["secrets"] is False, "federated and managed identity: nothing secret"
    assert by_stack["prod"]["previewEnvironment"] == "preview"


@pytest.mark.parametrize(("text", "secret"), [
    ("config:\n  inbound-provisioning-access:clients:\n    a: {kind: managedIdentity, existing: {objectId: x}}\n",
     False),
    ("config:\n  inbound-provisioning-access:clients:\n    a: {kind: servicePrincipal, credential: {type: secret}}\n",
     True),
    ("config:\n  inbound-provisioning-access:clients:\n    a: {kind: servicePrincipal, credential: "
     "{type: certificate, generate: {subject: a}}}\n", True),
    ("config:\n  inbound-provisioning-access:clients:\n    a: {kind: servicePrincipal, credential: "
     "{type: certificate, pem: x}}\n", False),
    ("config:\n  azure-native:clientSecret: {secure: AAA}\n", True),
    ("config: [1]\n", True),
    ("config: {a: [\n", True),
    ("config: !!python/object/apply:os.system ['true']\n", True),
])
def test_what_counts_as_secret(tmp_path: Path, text: str, secret: bool) -> None:
    (tmp_path / "Pulumi.x.yaml").write_text(text)
    assert stacks.has_secrets(tmp_path / "Pulumi.x.yaml") is secret


def test_prints_one_json_object_and_ignores_other_files(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "Pulumi.prod-eu.yaml", "Pulumi.dev.yaml", "Pulumi.bad name.yaml", "other.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    out = io.StringIO()
    assert stacks.main(["--root", str(tmp_path)], out) == 0
    found = json.loads(out.getvalue())
    assert [e["stack"] for e in found["all"]] == ["dev", "prod-eu"]
    assert [e["stack"] for e in found["prod"]] == ["prod-eu"]


def test_prod_stacks_in_any_case_go_to_the_reviewed_environment(tmp_path: Path) -> None:
    for name in ("Pulumi.Prod-eu.yaml", "Pulumi.PROD.yaml", "Pulumi.production.yaml", "Pulumi.preprod.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    out = io.StringIO()
    assert stacks.main(["--root", str(tmp_path)], out) == 0
    found = json.loads(out.getvalue())
    assert sorted(e["stack"] for e in found["prod"]) == ["PROD", "Prod-eu", "production"]
    assert [e["stack"] for e in found["nonprod"]] == ["preprod"]
