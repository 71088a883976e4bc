"""make check-expiry: the scheduled pipeline's alarm for credentials nobody renewed."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from tests.conftest import NOW, secret_client
from tools import expiry
from tools.offline_values import self_signed_pem


def run_check(tmp_path: Path, outputs: Any, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    out, err = io.StringIO(), io.StringIO()
    code = expiry.main(["--stack", "prod", "--outputs", str(path), *extra], out, err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def test_a_freshly_deployed_stack_passes(tmp_path: Path, run_at: Any) -> None:
    pem = self_signed_pem("hr", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200))
    run = run_at({"clients": {"secret": secret_client(), "cert": {"kind": "servicePrincipal", "credential": {
        "type": "certificate", "pem": pem}}, "logic": {"kind": "managedIdentity", "existing": {
            "displayName": "CSV2SCIMBulkUpload"}}}})
    code, text, _ = run_check(tmp_path, run.outputs)
    assert code == 0, text
    assert "| logic | managedIdentity | - | - | no expiry |" in text
    assert text.count("| ok |") == 2
    assert "mock-secret-value" not in text, "only the clients output is read"


def test_expired_and_soon_expiring_credentials_fail(tmp_path: Path) -> None:
    clients = {
        "old": {"credentialType": "certificate", "credentialExpiresAt": "2026-11-01T00:00:00Z"},
        "soon": {"credentialType": "certificate", "credentialExpiresAt": "2026-12-10T00:00:00Z"},
        "fine": {"credentialType": "secret", "credentialExpiresAt": "2027-03-01T00:00:00Z",
                 "credentialRenewsAt": "2027-01-21T00:00:00Z"},
    }
    code, text, _ = run_check(tmp_path, {"clients": clients})
    assert code == 1
    assert "| old | certificate | 2026-11-01T00:00:00Z | - | EXPIRED |" in text
    assert "| soon | certificate | 2026-12-10T00:00:00Z | - | EXPIRES IN 12 DAYS |" in text
    assert "| fine | secret | 2027-03-01T00:00:00Z | 2027-01-21T00:00:00Z | ok |" in text
    assert "2 client(s) need a new credential" in text
    assert run_check(tmp_path, {"clients": {"soon": clients["soon"]}}, "--days", "7")[0] == 0


def test_unreadable_outputs_are_a_usage_error(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert expiry.main(["--stack", "prod", "--outputs", str(tmp_path / "missing.json")], out, err) == 2
    assert "cannot read" in err.getvalue()
    code, _, error = run_check(tmp_path, ["not", "outputs"])
    assert code == 2
    assert "no `clients` map" in error


def test_the_clients_output_comes_from_the_pulumi_cli(tmp_path: Path, monkeypatch: Any) -> None:
    """Only the non-secret `clients` output is asked for: the check decrypts nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args.txt"
    stand_in = bin_dir / "pulumi"
    clients = {"hr": {"credentialType": "secret", "credentialExpiresAt": "2027-06-01T00:00:00Z"}}
    stand_in.write_text(f"#!/usr/bin/env bash\necho \"$*\" > {log}\necho '{json.dumps(clients)}'\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    out, err = io.StringIO(), io.StringIO()
    assert expiry.main(["--stack", "prod"], out, err, now=NOW) == 0, err.getvalue()
    assert log.read_text().strip() == "stack output clients --json --stack prod"
    assert "| hr | secret | 2027-06-01T00:00:00Z | - | ok |" in out.getvalue()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert expiry.main(["--stack", "prod"], out, err, now=NOW) == 2
    assert "not on PATH; give the outputs with --outputs FILE" in err.getvalue()
